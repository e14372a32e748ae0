"""Named points where a test can freeze the server, to kill it or look at it there.

Some crash windows are too short to hit from outside (just after a swap's commit, before
the live index is saved again), and some states last too briefly to observe (a request
admitted and waiting for inference). With `EMBEDTUNE_FAILPOINT=<name>` in its environment
the server stops at that point and waits there forever, so a test can SIGKILL it exactly
there or read its metrics. A thread held by `hold` goes on instead once the file named by
`EMBEDTUNE_FAILPOINT_RELEASE` exists, so a test can let a held request finish when it
chooses (during a shutdown, say). Unset (always, outside tests), `reach` and `hold` return
at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path

ENV = "EMBEDTUNE_FAILPOINT"
RELEASE_ENV = "EMBEDTUNE_FAILPOINT_RELEASE"
# How often a held thread looks for its release file.
_RELEASE_POLL_S = 0.05
# Every point `reach` or `hold` is called with; the tests refer to these names.
AFTER_SWAP_COMMIT = "after-swap-commit"
BEFORE_INFERENCE = "before-inference"
DURING_COMPACTION = "during-compaction"

log = logging.getLogger(__name__)


async def reach(name: str) -> None:
    if os.environ.get(ENV) == name:
        log.warning("failpoint %s reached: waiting here until killed", name)
        await asyncio.Event().wait()


def hold(name: str) -> None:
    """`reach` for a thread outside the event loop: it blocks that thread (until killed, or until
    the release file exists), the loop runs on."""
    if os.environ.get(ENV) != name:
        return
    release = os.environ.get(RELEASE_ENV)
    if not release:
        log.warning("failpoint %s reached: this thread waits here until killed", name)
        threading.Event().wait()
    log.warning("failpoint %s reached: this thread waits here until %s exists", name, release)
    while not Path(release).exists():
        time.sleep(_RELEASE_POLL_S)
