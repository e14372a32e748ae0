"""benchmarks/soak.py for a few seconds with a tiny setup: its report, table and plot are well formed.

The real soak (10 minutes, 16 clients) is a benchmark; this checks that the harness runs
every operation against a real server and that its consistency check reads the server.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import soak


@pytest.mark.slow
def test_a_short_soak_reports_consistency_and_writes_its_table_and_plot(onnx_model_dir, tmp_path):
    out = tmp_path / "soak"
    status = soak.main(
        ["--minutes", "0.1", "--clients", "4", "--ids-per-client", "5", "--model", str(onnx_model_dir),
         "--out", str(out)]
    )  # fmt: skip
    report = json.loads((out / "soak.json").read_text())
    assert report["consistency"]["inconsistencies"] == []
    assert report["errors"] == 0, report["error_codes"]
    assert status == (0 if report["passed"] else 1)
    assert len(report["intervals"]) == soak.INTERVALS
    assert report["ok"] > 0
    assert set(report["calls_by_operation"]) <= set(soak.MIX)
    assert sum(report["calls_by_operation"].values()) == report["calls"]
    assert (out / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "soak.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == soak.INTERVALS


def test_an_id_written_by_a_failed_call_may_hold_either_edition():
    ledger = soak.Ledger()
    ledger.settle("a", 1)
    ledger.unsure("a", 2)
    assert ledger.possible("a") == {1, 2}
    ledger.settle("a", soak.DELETED)
    assert ledger.possible("a") == {soak.DELETED}
    assert ledger.possible("never-written") == {soak.DELETED}
