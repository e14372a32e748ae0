"""`python -m embedtune_server.jobs.background PARENT_PID COMMAND...`: run COMMAND in the background.

The server's heavy jobs (training, re-embedding every document) run in child processes
through this wrapper, which sets two things before it becomes COMMAND (exec keeps them):

- the lowest CPU priority (nice 19 and, on Linux, SCHED_IDLE): the job runs on the CPU
  that serving leaves idle, and a request arriving preempts it at once;
- on Linux, death with the parent (PR_SET_PDEATHSIG): a server killed with SIGKILL
  leaves no job running behind it, so a restart never races a stale trainer.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def lowest_priority() -> None:
    os.nice(19)
    if hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):  # where it is not permitted, nice 19 still applies
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def main(argv: list[str]) -> None:
    parent_pid, *command = argv
    lowest_priority()
    die_with_parent(int(parent_pid))
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
