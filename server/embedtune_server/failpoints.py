"""Named points where a test can freeze the server, to kill it or look at it there.

Some crash windows are too short to hit from outside (just after a swap's commit, before
the live index is saved again), and some states last too briefly to observe (a request
admitted and waiting for inference). With `EMBEDTUNE_FAILPOINT=<name>` in its environment
the server stops at that point and waits there forever, so a test can SIGKILL it exactly
there or read its metrics. Unset (always, outside tests), `reach` and `hold` return at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

ENV = "EMBEDTUNE_FAILPOINT"
# Every point `reach` or `hold` is called with; the tests refer to these names.
AFTER_SWAP_COMMIT = "after-swap-commit"
BEFORE_INFERENCE = "before-inference"

log = logging.getLogger(__name__)


async def reach(name: str) -> None:
    if os.environ.get(ENV) == name:
        log.warning("failpoint %s reached: waiting here until killed", name)
        await asyncio.Event().wait()


def hold(name: str) -> None:
    """`reach` for a thread outside the event loop: it blocks that thread, the loop runs on."""
    if os.environ.get(ENV) == name:
        log.warning("failpoint %s reached: this thread waits here until killed", name)
        threading.Event().wait()
