"""Rate limiting: a token bucket per terminal and a cap on pushes processed at once."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sync.server.errors import ApiError, error_response
from sync.server.settings import ServerSettings


class Limits:
    """Shared by every request of one server process."""

    def __init__(self, settings: ServerSettings) -> None:
        self.rate = settings.terminal_rate_per_second
        self.burst = float(settings.terminal_burst)
        self.retry_after = settings.retry_after_seconds
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._pushes = threading.BoundedSemaphore(settings.max_concurrent_pushes)
        self.max_busy_wait = max(self.retry_after, settings.max_busy_retry_after_seconds)
        self._window_start = time.monotonic()
        self._served = 0
        self._turned_away = 0
        self._busy_wait = self.retry_after

    def _busy_retry_after(self, *, served: bool) -> int:
        """Seconds a turned-away push is told to wait: longer while many more are turned away than
        served, so a reconnecting fleet spreads its retries instead of hammering the server."""
        with self._lock:
            now = time.monotonic()
            if served:
                self._served += 1
            else:
                self._turned_away += 1
            if now - self._window_start >= 1.0:
                ratio = self._turned_away / max(1, self._served)
                self._busy_wait = max(self.retry_after, min(self.max_busy_wait, math.ceil(ratio / 4)))
                self._window_start, self._served, self._turned_away = now, 0, 0
            return self._busy_wait

    def take(self, terminal_id: int) -> None:
        """Spend one request of ``terminal_id``'s bucket, or raise 429 saying when to come back."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(terminal_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[terminal_id] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self.rate)) if self.rate > 0 else self.retry_after
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests from this terminal; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[terminal_id] = (tokens - 1.0, now)

    @contextmanager
    def push_slot(self) -> Iterator[None]:
        """Hold one of the push slots, or raise 429 at once when all are taken."""
        if not self._pushes.acquire(blocking=False):
            wait = self._busy_retry_after(served=False)
            raise ApiError(
                429,
                "server_busy",
                f"the server is taking in other terminals' pushes; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        self._busy_retry_after(served=True)
        try:
            yield
        finally:
            self._pushes.release()


class PushGate:
    """ASGI middleware: a push beyond the concurrency cap gets 429 before its body is even read.

    Parsing and validating a 500-entry batch costs CPU; a thousand terminals reconnecting at once
    must not spend it on requests that will be turned away anyway.
    """

    def __init__(self, app: Any, limits: Limits, path: str = "/v1/push") -> None:
        self.app = app
        self.limits = limits
        self.path = path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            with self.limits.push_slot():
                await self.app(scope, receive, send)
        except ApiError as exc:
            await error_response(exc.status, exc.error, exc.detail, exc.headers)(scope, receive, send)
