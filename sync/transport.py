"""Networks that fail on purpose, for the sync proofs and the benchmark.

* :class:`FaultyTransport` wraps any httpx transport and, for the requests a rule picks, fails in
  one chosen way: before sending, after the server answered (a 500 or a timeout in place of the
  answer), or by delivering the request twice.
* :class:`ChaosProxy` is a TCP proxy on 127.0.0.1 in front of a real server. Per connection it can
  cut the stream after exactly N bytes of the request or of the response, or -- in chaos mode --
  drop, delay and reset connections at random from a seed.

Nothing here is used by the terminal in normal operation.
"""

from __future__ import annotations

import contextlib
import enum
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


class Fault(enum.Enum):
    """What :class:`FaultyTransport` does to a request its rule picked."""

    CONNECT_ERROR = "connect_error"  # never sent: the server sees nothing
    ERROR_500_AFTER_COMMIT = "500_after_commit"  # sent and answered; the answer replaced by a 500
    TIMEOUT_AFTER_COMMIT = "timeout_after_commit"  # sent and answered; the client sees a read timeout
    DELIVER_TWICE = "deliver_twice"  # sent twice (a retrying middlebox); the second answer is returned
    RESET_AFTER_COMMIT = "reset_after_commit"  # sent and answered; the connection drops before the answer


RequestRule = Callable[[httpx.Request], bool]


def is_push(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/v1/push")


class FaultyTransport(httpx.BaseTransport):
    """Passes requests to ``inner``; the next ``times`` requests matching ``rule`` get ``fault``.

    :meth:`arm` sets the fault; ``injected`` counts faults done so far."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._rule: RequestRule = is_push
        self._times = 0
        self.injected = 0

    def arm(self, fault: Fault, *, rule: RequestRule = is_push, times: int = 1) -> None:
        with self._lock:
            self._fault, self._rule, self._times = fault, rule, times

    def _take(self, request: httpx.Request) -> Fault | None:
        with self._lock:
            if self._fault is None or self._times <= 0 or not self._rule(request):
                return None
            self._times -= 1
            self.injected += 1
            return self._fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._take(request)
        if fault is None:
            return self.inner.handle_request(request)
        if fault is Fault.CONNECT_ERROR:
            raise httpx.ConnectError("injected: connection refused", request=request)
        request.read()
        if fault is Fault.DELIVER_TWICE:
            self._forward_and_drop(request)
            return self.inner.handle_request(_copy(request))
        self._forward_and_drop(request)
        if fault is Fault.ERROR_500_AFTER_COMMIT:
            return httpx.Response(
                500, json={"error": "injected", "detail": "injected 500 after commit"}, request=request
            )
        if fault is Fault.TIMEOUT_AFTER_COMMIT:
            raise httpx.ReadTimeout("injected: timed out after the server committed", request=request)
        raise httpx.RemoteProtocolError("injected: server disconnected without an answer", request=request)

    def _forward_and_drop(self, request: httpx.Request) -> None:
        response = self.inner.handle_request(_copy(request))
        response.read()
        response.close()

    def close(self) -> None:
        self.inner.close()


def _copy(request: httpx.Request) -> httpx.Request:
    return httpx.Request(request.method, request.url, headers=request.headers, content=request.content)


# --- the TCP proxy ---------------------------------------------------------------------------


@dataclass
class Cut:
    """Cut one connection after ``upstream`` bytes from the client, or ``downstream`` bytes from
    the server (whichever is set), closing both sides. ``only_if`` picks the connection by the
    first bytes the client sends (e.g. ``b"POST /v1/push"``)."""

    upstream: int | None = None
    downstream: int | None = None
    only_if: bytes = b""


@dataclass
class Chaos:
    """Random trouble per connection, from ``seed``: probabilities of dropping it at once,
    resetting it after a random number of bytes, and delaying each chunk by up to ``max_delay`` s."""

    drop: float = 0.0
    reset: float = 0.0
    delay: float = 0.0
    max_delay: float = 0.05
    seed: int = 0
    #: A reset in the request falls within its first this many bytes; in the answer, likewise.
    reset_request_within: int = 65536
    reset_answer_within: int = 1024


@dataclass
class ProxyStats:
    connections: int = 0
    cuts: int = 0
    drops: int = 0
    resets: int = 0
    delays: int = 0
    #: For each cut done: (upstream bytes passed, downstream bytes passed).
    cut_at: list[tuple[int, int]] = field(default_factory=list)


class ChaosProxy:
    """A TCP proxy from ``127.0.0.1:<port>`` to ``target`` that fails on request.

    Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``. :meth:`arm_cut` makes the
    next matching connection cut after an exact byte count; ``chaos`` makes every connection
    subject to random drops, resets and delays."""

    def __init__(self, target: tuple[str, int], *, chaos: Chaos | None = None) -> None:
        self.target = target
        self.chaos = chaos
        self.stats = ProxyStats()
        self._rng = random.Random(chaos.seed if chaos else 0)
        self._lock = threading.Lock()
        self._cut: Cut | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="chaos-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ChaosProxy:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def arm_cut(self, cut: Cut) -> None:
        with self._lock:
            self._cut = cut

    @property
    def armed(self) -> bool:
        with self._lock:
            return self._cut is not None

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.stats.connections += 1
                self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            stack.enter_context(client)
            chaos = self.chaos
            reset_up: int | None = None
            reset_down: int | None = None
            delay = 0.0
            if chaos is not None:
                with self._lock:
                    roll = self._rng.random()
                    if roll < chaos.drop:
                        self.stats.drops += 1
                        _reset(client)
                        return
                    if self._rng.random() < chaos.reset:
                        # Half the resets hit the request (the server never commits), half the
                        # answer (the server committed; the terminal never hears it).
                        if self._rng.random() < 0.5:
                            reset_up = self._rng.randrange(0, chaos.reset_request_within)
                        else:
                            reset_down = self._rng.randrange(0, chaos.reset_answer_within)
                    if self._rng.random() < chaos.delay:
                        delay = self._rng.uniform(0, chaos.max_delay)
                        self.stats.delays += 1
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                _reset(client)
                return
            stack.enter_context(server)
            self._pump(client, server, reset_up, reset_down, delay)

    def _pump(
        self,
        client: socket.socket,
        server: socket.socket,
        reset_up: int | None,
        reset_down: int | None,
        delay: float,
    ) -> None:
        up = down = 0
        cut: Cut | None = None
        decided = False
        first = b""
        sockets = [client, server]
        while not self._stopping.is_set():
            readable, _, _ = select.select(sockets, [], [], 0.2)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    # One side closed: pass the close on and finish.
                    with contextlib.suppress(OSError):
                        (server if sock is client else client).shutdown(socket.SHUT_WR)
                    sockets = [s for s in sockets if s is not sock]
                    if not sockets:
                        return
                    continue
                if sock is client and not decided:
                    first += data
                    with self._lock:
                        armed = self._cut
                        if armed is not None and (
                            first.startswith(armed.only_if) or len(first) >= len(armed.only_if)
                        ):
                            decided = True
                            if first.startswith(armed.only_if):
                                cut, self._cut = armed, None
                if delay:
                    time.sleep(delay)
                if sock is client:
                    limit = cut.upstream if cut is not None else None
                    if limit is not None and up + len(data) > limit:
                        self._cut_now(server, client, data[: limit - up], up=limit, down=down)
                        return
                    if reset_up is not None and up + len(data) > reset_up:
                        self._reset_both(client, server)
                        return
                    if not _send(server, data):
                        return
                    up += len(data)
                else:
                    limit = cut.downstream if cut is not None else None
                    if limit is not None and down + len(data) > limit:
                        self._cut_now(client, server, data[: limit - down], up=up, down=limit)
                        return
                    if reset_down is not None and down + len(data) > reset_down:
                        self._reset_both(client, server)
                        return
                    if not _send(client, data):
                        return
                    down += len(data)

    def _reset_both(self, client: socket.socket, server: socket.socket) -> None:
        with self._lock:
            self.stats.resets += 1
        _reset(client)
        _reset(server)

    def _cut_now(self, to: socket.socket, other: socket.socket, last: bytes, *, up: int, down: int) -> None:
        # Counted before the reset, so whoever sees the reset also sees the count.
        with self._lock:
            self.stats.cuts += 1
            self.stats.cut_at.append((up, down))
        with contextlib.suppress(OSError):
            if last:
                to.sendall(last)
        _reset(to)
        _reset(other)


def _send(sock: socket.socket, data: bytes) -> bool:
    """Pass ``data`` on; False when the peer is gone (the connection then just ends)."""
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0 makes close() send RST: the peer sees "connection reset", like a dropped link.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


__all__ = ["Chaos", "ChaosProxy", "Cut", "Fault", "FaultyTransport", "ProxyStats", "is_push"]
