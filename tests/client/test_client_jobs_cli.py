"""`embedtune jobs ...` and `embedtune models ...` through `embedtune_client.cli.main`, against the fake."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
from client_fakes import training_script

import embedtune_client.cli
from embedtune_client.cli import main
from embedtune_client.cli.job_bars import StateBars
from embedtune_client.core import convert
from embedtune_client.v1 import embedtune_pb2 as pb


@pytest.fixture
def cli(fake, capsys, monkeypatch):
    """Run `embedtune ARGS...` with only the client's commands; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(embedtune_client.cli, "_COMMAND_MODULES", ("embedtune_client.cli.commands",))
    monkeypatch.setenv("EMBEDTUNE_TARGET", fake.target)
    monkeypatch.setenv("EMBEDTUNE_ADMIN_KEY", "admin-key")
    monkeypatch.delenv("EMBEDTUNE_DEBUG", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exit:  # argparse refusing the arguments
            code = exit.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def final_bars(err: str) -> list[str]:
    """What each plain counter showed last: it rewrites its line with \r and ends it with \n."""
    return [line.rsplit("\r", 1)[-1] for line in err.split("\n") if line]


@pytest.fixture
def no_tqdm(monkeypatch):
    """The plain counter instead of tqdm: its output is easy to read back."""
    monkeypatch.setitem(sys.modules, "tqdm", None)


def test_start_wait_draws_a_bar_per_state_prints_the_gate_and_exits_0(cli, fake, no_tqdm):
    code, out, err = cli(
        "jobs", "start", "--loss", "triplet=TripletLoss", "--loss", "pair=MultipleNegativesRankingLoss",
        "--epochs", "2", "--batch-size", "8", "--lr", "2e-5", "--held-out", "0.2", "--seed", "7", "--wait",
    )  # fmt: skip
    assert code == 0
    options = fake.state.requests["StartTraining"][0].options
    assert dict(options.losses) == {"triplet": "TripletLoss", "pair": "MultipleNegativesRankingLoss"}
    assert (options.epochs, options.batch_size, options.seed) == (2.0, 8, 7)
    assert not options.HasField("min_feedback") and not options.HasField("gate_margin")
    # One bar per state that runs, each ending where the server said; none for "activated".
    bars = final_bars(err)
    assert bars == ["queued: 0", "training: 4/4", "evaluating: 0", "exporting: 0", "reindexing: 3/3"]
    assert out.splitlines() == [
        "job 1 (train) activated: version v3",
        "gate: cosine_accuracy: active 0.8000, new 0.8750, margin 0.0100, passed",
        "seconds: queued 0.5, training 12.2, evaluating 1.5, exporting 2.0, reindexing 0.8",
    ]
    assert {m["authorization"] for m in fake.state.metadata["WatchJob"]} == {"Bearer admin-key"}


def test_start_wait_exits_1_on_a_rejected_job_with_the_reason_and_the_gate(cli, fake, no_tqdm):
    fake.state.job_scripts[pb.JOB_KIND_TRAIN] = training_script(passes=False)
    code, out, err = cli("jobs", "start", "--wait")
    assert code == 1
    assert out.splitlines() == [
        "job 1 (train) rejected: version v3",
        "reason: the new version scored 0.795, not above 0.8 + 0.01",
        "gate: cosine_accuracy: active 0.8000, new 0.7950, margin 0.0100, failed",
        "seconds: queued 0.5, training 12.2, evaluating 1.5",
    ]
    assert final_bars(err) == ["queued: 0", "training: 4/4", "evaluating: 0"]


def test_start_wait_draws_tqdm_bars_when_tqdm_is_installed(cli):
    pytest.importorskip("tqdm")
    code, _, err = cli("jobs", "start", "--wait")
    assert code == 0
    assert "4/4" in err and "steps" in err and "3/3" in err and "documents" in err


def test_start_without_wait_prints_the_queued_job(cli, fake):
    code, out, _ = cli("jobs", "start")
    assert code == 0 and out.strip() == "job 1 (train) queued: version v3"
    code, out, _ = cli("jobs", "start", "--json")
    job = json.loads(out)
    assert code == 0 and (job["id"], job["state"], job["options"]["batch_size"]) == (2, "queued", 16)
    assert fake.state.calls("WatchJob") == 0


@pytest.mark.parametrize(
    "argv",
    [
        ("--loss", "tripletTripletLoss"),
        ("--loss", "triplet="),
        ("--loss", "=TripletLoss"),
        ("--loss", "quadruplet=TripletLoss"),  # syntax fine, the client refuses the kind
        ("--held-out", "1.5"),
        ("--batch-size", "many"),
    ],
)
def test_bad_start_arguments_exit_2_and_send_nothing(cli, fake, argv):
    code, out, err = cli("jobs", "start", *argv)
    assert code == 2 and not out
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("embedtune jobs")
    assert fake.state.calls("StartTraining") == 0


def test_jobs_list_show_and_json(cli, fake):
    cli("jobs", "start", "--wait")
    cli("jobs", "start")
    code, out, _ = cli("jobs", "list")
    lines = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and [line[:4] for line in lines] == [
        ["2", "train", "queued", "v3"],
        ["1", "train", "activated", "v3"],
    ]
    assert lines[0][4].endswith("Z")
    code, out, _ = cli("jobs", "list", "--limit", "1", "--json")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [2]
    code, out, _ = cli("jobs", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["state"] == "activated" and shown["gate"]["passed"] is True
    assert shown["state_seconds"]["training"] == 12.25 and shown["options"]["learning_rate"] == 2e-5
    code, out, _ = cli("jobs", "show", "1")
    assert code == 0
    assert "options: epochs=1.0 batch_size=16 learning_rate=2e-05 held_out_fraction=0.25" in out
    assert "feedback: ids 1..40 (triplet 40)" in out
    assert "metric cosine_accuracy: active 0.8000, new 0.8750" in out


def test_jobs_watch_and_cancel(cli, fake, no_tqdm):
    cli("jobs", "start")
    code, out, _ = cli("jobs", "cancel", "1")
    cancelled = ["job 1 (train) cancelled: version v3", "reason: cancelled by request"]
    assert code == 0 and out.splitlines() == cancelled
    code, out, err = cli("jobs", "watch", "1")  # a finished job: its summary, no bar
    assert code == 1 and out.splitlines() == cancelled and not err
    code, out, err = cli("jobs", "watch", "2")
    assert code == 1 and "NOT_FOUND" in err and not out


def test_a_server_error_is_one_line_and_exits_1(cli):
    code, out, err = cli("jobs", "show", "99")
    assert code == 1 and not out
    assert err.strip() == "embedtune jobs: error: GetJob: NOT_FOUND: no job 99"


def test_models_list_text_and_json(cli):
    code, out, _ = cli("models", "list")
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and [row[:4] for row in rows] == [
        ["v1", "ready (active)", "-", "fake-model"],
        ["v2", "ready", "v1", "fake-model"],
    ]
    code, out, _ = cli("models", "list", "--json")
    models = [json.loads(line) for line in out.splitlines()]
    assert [m["version"] for m in models] == ["v1", "v2"]
    assert models[1]["losses"] == {"triplet": "TripletLoss"} and models[0]["active"] is True


def test_models_add_and_activate(cli, fake, no_tqdm):
    code, out, _ = cli("models", "add", "sentence-transformers/all-MiniLM-L6-v2")
    assert code == 0 and out.strip() == "job 1 (add_model) queued: version v3"
    assert fake.state.requests["AddModel"][0].source == "sentence-transformers/all-MiniLM-L6-v2"
    code, out, err = cli("models", "activate", "v2", "--wait")
    assert code == 0
    assert out.splitlines() == ["job 2 (activate) activated: version v2", "seconds: reindexing 0.2"]
    assert final_bars(err) == ["queued: 0", "reindexing: 2/2"]
    code, _, err = cli("models", "activate", "v9")
    assert code == 1 and "NOT_FOUND" in err


# ------------------------------------------------------------- state bars


class RecordedBar:
    def __init__(self, total: int, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done, self.closed = 0, False

    def update(self, count: int) -> None:
        self.done += count

    def close(self) -> None:
        self.closed = True


def job(state: int, done: int = 0, total: int = 0, unit: str = ""):
    return convert.job(pb.Job(id=1, state=state, progress=pb.JobProgress(done=done, total=total, unit=unit)))


def recorder() -> tuple[list[RecordedBar], Callable[[int, str, str], RecordedBar]]:
    opened: list[RecordedBar] = []

    def open_bar(total: int, desc: str, unit: str) -> RecordedBar:
        opened.append(RecordedBar(total, desc, unit))
        return opened[-1]

    return opened, open_bar


def test_state_bars_open_one_bar_per_state_and_none_for_the_end():
    opened, open_bar = recorder()
    with StateBars(open_bar) as bars:
        for update in (
            job(pb.JOB_STATE_QUEUED),
            job(pb.JOB_STATE_TRAINING, 0, 10, "steps"),
            job(pb.JOB_STATE_TRAINING, 4, 10, "steps"),
            job(pb.JOB_STATE_TRAINING, 10, 10, "steps"),
            job(pb.JOB_STATE_REINDEXING, 0, 0, "documents"),  # total not known yet
            job(pb.JOB_STATE_REINDEXING, 5, 20, "documents"),
            job(pb.JOB_STATE_ACTIVATED),
        ):
            bars(update)
        assert all(bar.closed for bar in opened)  # the end closed the last one
    assert [(b.desc, b.unit, b.total, b.done) for b in opened] == [
        ("queued", "it", 0, 0),
        ("training", "steps", 10, 10),
        ("reindexing", "documents", 20, 5),
    ]


def test_state_bars_close_the_open_bar_when_the_wait_fails():
    opened, open_bar = recorder()
    with pytest.raises(TimeoutError), StateBars(open_bar) as bars:
        bars(job(pb.JOB_STATE_TRAINING, 3, 10, "steps"))
        raise TimeoutError
    assert [(b.done, b.closed) for b in opened] == [(3, True)]
