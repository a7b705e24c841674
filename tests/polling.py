# SPDX-License-Identifier: Apache-2.0
"""The one polling loop of the test harnesses."""
from __future__ import annotations

import time
from typing import Callable


def wait_for(what: str, check: Callable, timeout: float, interval: float, retry_on: tuple = (), context: Callable[[], str] = lambda: ""):
    """Call `check` until it returns something truthy and return that; errors in `retry_on`
    count as "not yet". On timeout, fail naming `what`, the last result and `context()`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except retry_on as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){context()}")
