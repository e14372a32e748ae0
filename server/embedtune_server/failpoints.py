"""Named points where a test can freeze the server, to kill it there.

Some crash windows are too short to hit from outside (just after a swap's commit, before
the live index is saved again). With `EMBEDTUNE_FAILPOINT=<name>` in its environment the
server stops at that point and waits there forever, so a test can SIGKILL it exactly
there. Unset (always, outside tests), `reach` returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import os

ENV = "EMBEDTUNE_FAILPOINT"
# Every point `reach` is called with; the tests refer to these names.
AFTER_SWAP_COMMIT = "after-swap-commit"

log = logging.getLogger(__name__)


async def reach(name: str) -> None:
    if os.environ.get(ENV) == name:
        log.warning("failpoint %s reached: waiting here until killed", name)
        await asyncio.Event().wait()
