"""The server's batch cutter replayed offline: which batches it cuts for a traffic, and their speed.

The plans are lists of groups of batches: a group's batches run at once on the backend's
streams, and a group finishes before the next starts (one client waits for each answer).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from benchmarks.common import alternated_medians

Batch = list[np.ndarray]
Plan = list[list[Batch]]


def server_plan(
    token_ids: list[np.ndarray],
    clients: int,
    request_size: int,
    max_batch_requests: int,
    max_batch_tokens: int,
    padding: tuple[int, int] | None = None,
) -> Plan:
    """The cutter's batches while `clients` requests of `request_size` inputs (in a shuffled order)
    wait at all times; `padding` is (share, slack) when not the cutter's own rule.

    Grouped by what must finish before the next group starts: with one client, each
    request is a group (it waits for its answer); with more, the queue never drains.
    """
    from embedtune_server.batching import _Entry, _Request, cut_batch

    rules = {} if padding is None else {"padding_share": padding[0], "padding_slack": padding[1]}
    order = list(range(len(token_ids)))
    random.Random(0).shuffle(order)
    requests = [order[i : i + request_size] for i in range(0, len(order), request_size)]
    arrivals = iter(range(len(token_ids)))
    pending: list[_Entry] = []
    groups: Plan = [[]]
    waiting = 0
    while waiting < len(requests) or pending:
        while waiting < len(requests) and len({id(e.request) for e in pending}) < clients:
            if clients == 1 and groups[-1]:
                groups.append([])
            request = _Request(future=None, size=len(requests[waiting]), enqueued_at=0.0)
            pending += [
                _Entry(request, p, token_ids[i], next(arrivals)) for p, i in enumerate(requests[waiting])
            ]
            waiting += 1
        batch, pending = cut_batch(pending, max_batch_requests, max_batch_tokens, **rules)
        groups[-1].append([e.token_ids for e in batch])
    return groups


def padded_tokens(plan: Plan) -> int:
    return sum(len(batch) * max(map(len, batch)) for group in plan for batch in group)


def rates(backend, plans: list[Plan], items: int, passes: int) -> list[float]:
    """Items/s of each plan on `backend`'s streams: median of passes alternated between the plans."""
    with ThreadPoolExecutor(backend.streams) as pool:

        def run(plan: Plan) -> None:
            for group in plan:
                list(pool.map(backend.infer, group))

        return [items / s for s in alternated_medians([partial(run, plan) for plan in plans], passes)]
