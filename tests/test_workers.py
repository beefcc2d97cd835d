"""The worker pool's bookkeeping: results come back keyed, and a freed worker takes the next task
before the result is handed out, so progress counts see every busy worker."""

from __future__ import annotations

import time

from himnet_lib.engine.process_pool import OK, WorkerPool


def _nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_freed_worker_takes_the_next_task_before_the_result_is_yielded():
    with WorkerPool(2) as pool:
        keys = [pool.submit(_nap, 0.3) for _ in range(5)]
        seen, busy = [], []
        for key, outcome, value in pool.results(poll=0.05):
            if key < 0:
                continue
            seen.append(key)
            assert (outcome, value) == (OK, 0.3)
            busy.append(len(pool.running()))
    assert sorted(seen) == sorted(keys)
    # while tasks remain queued, both workers are busy at every result: 2, 2, 2, then the tail
    assert busy[:3] == [2, 2, 2], busy
