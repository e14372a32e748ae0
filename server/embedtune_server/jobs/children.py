"""Running a job's child process and reading its progress.

A child reports on stdout, one JSON object per line; whatever it writes to stderr goes
to a log file beside the job, and its last lines explain a failure. Cancelling the task
that awaits a child terminates the child (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Seconds a child gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE_S = 5.0
_TAIL_LINES = 20


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stderr_tail: str

    @property
    def error_line(self) -> str:
        """Why it failed: the signal that killed it, else its last stderr line (where the trainer
        and the server print their one-line errors)."""
        if self.returncode < 0:
            return f"killed by signal {-self.returncode} ({signal.Signals(-self.returncode).name})"
        lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exited with code {self.returncode}"


def background_command(command: Sequence[str]) -> list[str]:
    """`command` wrapped to run at the lowest CPU priority and to die with this process."""
    return [sys.executable, "-m", "embedtune_server.jobs.background", str(os.getpid()), *command]


async def run_child(
    command: Sequence[str],
    log_path: Path,
    on_event: Callable[[dict], None],
    env: dict[str, str] | None = None,
) -> ChildResult:
    """Run `command` in the background; each JSON line it prints goes to `on_event`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            *background_command(command),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            limit=2**24,
        )
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                log.info("%s: %s", Path(command[0]).name, line)
                continue
            if isinstance(event, dict):
                on_event(event)
        returncode = await process.wait()
    except asyncio.CancelledError:
        await _terminate(process)
        raise
    return ChildResult(returncode, _tail(log_path))


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), TERMINATE_GRACE_S)
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        process.kill()
        await process.wait()


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_TAIL_LINES:])
