"""Publishing a file or a folder by rename so that a power loss leaves the old one or the new one, whole.

A rename is atomic but not durable: the new file's data may reach the disk after the
rename does (a zero-byte file after power loss), and the rename itself lives in the
folder. So the new file (every file and folder of a new tree) is fsynced before the
rename, and the folder after it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    if not path.is_dir():
        _fsync(path)
        return
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():  # a link's target is not part of the tree
                _fsync(file)
        _fsync(Path(root))


def replace_durably(src: Path, dst: Path) -> None:
    """Rename `src` (a file or a folder) to `dst` once its contents are on disk; return once the rename is."""
    _fsync_tree(src)
    os.replace(src, dst)
    _fsync(dst.parent)
    if src.parent != dst.parent:
        _fsync(src.parent)


def write_atomically(path: Path, data: bytes | memoryview) -> None:
    """Replace `path` by `data` durably; on failure `path` is untouched and no temporary file is left."""
    tmp = path.with_name(f"{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        replace_durably(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
