"""A full disk under a real server: writes are RESOURCE_EXHAUSTED and keep nothing, reads keep
serving, SIGTERM still stops cleanly, and with space freed a restart has every acknowledged write.

The home lives on a small tmpfs filled to the last byte, which needs root and `mount`.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import grpc
import pytest

from embedtune_client.v1 import embedtune_pb2 as pb


def fill(folder: Path) -> Path:
    """A file that takes every free byte of `folder`'s file system."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


DOCUMENTS = [pb.Document(id="a", text="the river bank"), pb.Document(id="b", text="a loan from the bank")]


@pytest.mark.slow
def test_a_full_disk_refuses_writes_keeps_reads_and_stops_cleanly(launch, small_disk):
    # The home is the mount itself, so the server's log (beside the home) stays off the full disk.
    server = launch("--index-save-interval-s", "3600", home=small_disk)
    with server.channel() as channel:
        _, index, feedback = server.stubs(channel)
        index.Upsert(pb.UpsertRequest(documents=DOCUMENTS))
        filler = fill(small_disk)
        item = pb.FeedbackItem(labeled_text=pb.LabeledText(text=pb.TextRef(text="t"), label=1))
        writes = [
            (index.Upsert, pb.UpsertRequest(documents=[pb.Document(id="c", text="refused")])),
            (index.Delete, pb.DeleteRequest(ids=["a"])),
            (feedback.SubmitFeedback, pb.SubmitFeedbackRequest(items=[item])),
        ]
        for call, request in writes:
            with pytest.raises(grpc.RpcError) as refused:
                call(request, timeout=30)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.value.details()
            assert "disk full" in refused.value.details()
        assert index.Count(pb.CountRequest()).count == 2
        assert [d.text for d in index.Get(pb.GetRequest(ids=["a", "b"])).documents] == [
            d.text for d in DOCUMENTS
        ]
        hits = index.Search(pb.SearchRequest(text="a loan", k=3)).hits
        assert [h.id for h in hits] == ["b", "a"]
    assert server.stop() == 0
    log = server.log_text()
    assert "Traceback" not in log and " ERROR " not in log, log
    assert "saving the index failed ([Errno 28]" in log

    filler.unlink()
    again = launch(home=small_disk)
    with again.channel() as channel:
        _, index, _ = again.stubs(channel)
        assert sorted(d.id for d in index.Get(pb.GetRequest(ids=["a", "b"])).documents) == ["a", "b"]
        with pytest.raises(grpc.RpcError) as missing:
            index.Get(pb.GetRequest(ids=["c"]))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        index.Upsert(pb.UpsertRequest(documents=[pb.Document(id="c", text="stored once space is back")]))
        assert index.Search(pb.SearchRequest(text="a loan", k=3)).hits[0].id == "b"
        assert index.Count(pb.CountRequest()).count == 3
    assert again.stop() == 0
