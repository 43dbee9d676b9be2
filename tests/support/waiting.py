"""Waiting for an asynchronous outcome: ``eventually``, never a sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable, timeout: float = 15.0, interval: float = 0.05):
    """Polls ``check`` (sync or async) until it returns a truthy value; fails after ``timeout``.
    Waiting for an asynchronous outcome, not standing in for one: the assertion is the check."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")
