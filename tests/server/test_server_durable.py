"""Publishing by rename: the data on disk before the name, the name before returning, nothing half-written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from embedtune_server import durable
from embedtune_server.durable import replace_durably, write_atomically


@pytest.fixture
def disk_events(monkeypatch) -> list[tuple[str, str]]:
    """Every fsync (of the path its descriptor names) and every rename, in order."""
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def recorded_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recorded_replace(src: Path, dst: Path) -> None:
        events.append(("rename", f"{src} -> {dst}"))
        replace(src, dst)

    monkeypatch.setattr(durable.os, "fsync", recorded_fsync)
    monkeypatch.setattr(durable.os, "replace", recorded_replace)
    return events


def test_a_written_file_is_synced_then_renamed_then_its_folder_synced(tmp_path, disk_events):
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomically(target, b"new")
    tmp = f"{target}.tmp"
    assert disk_events == [("fsync", tmp), ("rename", f"{tmp} -> {target}"), ("fsync", str(tmp_path))]
    assert target.read_text() == "new" and not Path(tmp).exists()


def test_a_renamed_folder_has_every_file_and_folder_synced_first(tmp_path, disk_events):
    built = tmp_path / "building" / ".v2.partial"
    (built / "onnx").mkdir(parents=True)
    (built / "onnx" / "model.onnx").write_bytes(b"graph")
    (built / "embedtune.json").write_text("{}")
    target = tmp_path / "models" / "v2"
    target.parent.mkdir()
    replace_durably(built, target)
    rename = disk_events.index(("rename", f"{built} -> {target}"))
    before = {path for _, path in disk_events[:rename]}
    after = {path for _, path in disk_events[rename + 1 :]}
    assert before == {
        str(built),
        str(built / "onnx"),
        str(built / "onnx/model.onnx"),
        str(built / "embedtune.json"),
    }
    assert after == {str(target.parent), str(built.parent)}
    assert (target / "onnx" / "model.onnx").read_bytes() == b"graph"


def test_a_write_cut_short_by_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "index.faiss"
    target.write_bytes(b"old index")

    def full_disk(path: Path, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"a new index, twice as long")
    monkeypatch.undo()
    assert target.read_bytes() == b"old index"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.faiss"]
