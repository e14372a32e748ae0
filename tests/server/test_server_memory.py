"""The server's memory after large Embed calls, through a real server, and how it reports it.

Texts of the model's full sequence length in calls of a quarter batch, one batch and two
batches (a batch per stream on two cores), then five more of two: every batch is as large
as the token budget allows. The budget (BATCH_TOKENS, sixteen full-length texts) is above
the default, so that a stream that kept its largest batch's memory would hold far more
than OVER_IDLE above the idle process. The memory the batches used is handed
back once the streams have had nothing queued for a moment (`--release-batch-memory`, the
default), just after the call's results go out, so the server's resident memory, read once
it stops falling, stays near what it held before the first call (its sessions' weights and
the rest of the process) and does not grow from call to call.
"""

from __future__ import annotations

import random
import urllib.request

import pytest

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.backend import OnnxBackend
from embedtune_server.launcher import free_port
from embedtune_server.memory import rss_bytes, settled_rss_bytes

BATCH_TOKENS = 16 * 256
# After each call: at most this much above the resident memory before the first.
OVER_IDLE = 0.25
# After the last call: at most this much above the resident memory after the first two-batch call.
OVER_FIRST_FULL_CALL = 0.05
# Info's and the metric's figure against /proc's, read a moment apart.
READING_TOLERANCE = 0.05
WORDS = "the a man woman child dog cat plays runs guitar piano river city bank money loan vector".split()


def long_texts(count: int, rng: random.Random) -> list[str]:
    """Texts past the model's max_seq_length: each is truncated to the full length."""
    return [" ".join(rng.choice(WORDS) for _ in range(400)) for _ in range(count)]


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} is not exported")


@pytest.mark.slow
def test_memory_of_large_batches_is_handed_back(launch):
    server = launch("--max-batch-tokens", str(BATCH_TOKENS))
    pid = server.process.pid
    rng = random.Random(0)
    with server.channel() as channel:
        embed = server.stubs(channel)[0]
        max_seq_length = embed.Info(pb.InfoRequest()).max_seq_length
        batch = BATCH_TOKENS // max_seq_length
        call_sizes = [batch // 4, batch, *[2 * batch] * 6]
        idle = rss_bytes(pid)
        after = []
        for size in call_sizes:
            response = embed.Embed(pb.EmbedRequest(inputs=long_texts(size, rng)), timeout=600)
            assert set(response.token_counts) == {max_seq_length}
            after.append(settled_rss_bytes(pid))
    assert max(after) <= idle * (1 + OVER_IDLE), f"idle {idle}, after each call {after}"
    first_full = after[call_sizes.index(2 * batch)]
    assert after[-1] <= first_full * (1 + OVER_FIRST_FULL_CALL), f"after each call {after}"


@pytest.mark.parametrize("release", [True, False])
def test_encode_outside_the_batcher_hands_back_its_sessions_memory(onnx_model_dir, release):
    """Reindexing encodes with `OnnxBackend.encode`, where no stream goes idle to release memory."""
    backend = OnnxBackend(onnx_model_dir, intra_op_threads=1, streams=2, release_memory=release)
    backend.encode(long_texts(8, random.Random(0)), batch_size=2)
    assert backend._pool.holding_batch_memory == (0 if release else 2)


def test_info_and_the_metric_report_the_resident_memory(launch):
    port = free_port()
    server = launch("--metrics-port", str(port))
    with server.channel() as channel:
        reported = server.stubs(channel)[0].Info(pb.InfoRequest()).rss_bytes
    assert reported == pytest.approx(rss_bytes(server.process.pid), rel=READING_TOLERANCE)
    exported = metric(port, "embedtune_resident_memory_bytes")
    assert exported == pytest.approx(rss_bytes(server.process.pid), rel=READING_TOLERANCE)
