"""Slow clients refused cleanly: nginx's ``client_header_timeout`` and ``client_body_timeout`` for
uvicorn, whose httptools protocol waits forever for a request head or body (it times out only the
idle keep-alive gap between requests). A few clients trickling bytes could otherwise hold every
connection a worker has (slowloris).

- The whole request head must arrive within ``http_header_timeout_seconds`` of the connection
  opening or, on a keep-alive connection, of the next request's first byte (as nginx: the idle gap
  before it is uvicorn's keep-alive timer's, which any byte cancels).
- While a body is being received no pause between reads may exceed ``http_body_timeout_seconds``.
  Time the server itself holds the client back (reading paused for flow control, ``Expect:
  100-continue`` not yet answered) does not count.

Either answers 408 problem+json in both languages and closes the connection; a connection that sent
nothing at all is closed silently, like an idle keep-alive one. A route already running for a
stalled body sees ``http.disconnect`` and whatever it answers is dropped.

uvicorn builds the protocol from its own Config only, so the limits come from ``XIAOER_*`` (read
once per process) unless a subclass sets them (``guarded_protocol``). Served with
``uvicorn.run(..., http="shared.slow_clients:GuardedHttpProtocol")``: an import string, because
worker processes import it themselves.
"""

from __future__ import annotations

import functools
from asyncio import TimerHandle

import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared.problems import transport_refusal

log = structlog.get_logger(__name__)


@functools.cache
def configured_limits() -> tuple[float, float]:
    """(seconds for a whole head, longest pause in a body) from the environment, once per process."""
    from shared.settings import Settings

    settings = Settings()
    return settings.http_header_timeout_seconds, settings.http_body_timeout_seconds


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with nginx's head and body timeouts (see the module)."""

    # None: from the settings (``configured_limits``); a subclass may fix them (``guarded_protocol``).
    header_timeout_seconds: float | None = None
    body_timeout_seconds: float | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        header, body = self.header_timeout_seconds, self.body_timeout_seconds
        if header is None or body is None:
            configured = configured_limits()
            header, body = header or configured[0], body or configured[1]
        self.header_timeout, self.body_timeout = header, body
        self._head_timer: TimerHandle | None = None
        self._body_timer: TimerHandle | None = None
        self._in_head = False  # some of a request head has come, not all of it
        self._last_read = 0.0

    # --- the head: armed when the connection opens or a request's first byte comes ------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._head_timer is None:  # a new connection's timer already runs since it opened
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_timers()
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            # Cancelled at once by on_message_complete when there is no body.
            self._last_read = self.loop.time()
            self._body_timer = self.loop.call_later(self.body_timeout, self._check_body)

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server holds the bytes back (pipelining): not the client's fault
            self._arm_head_timer()
            return
        if not self._in_head:  # nothing sent at all: close as an idle keep-alive connection is closed
            log.debug("http.idle_connection_closed", client=self._client_text())
            self.transport.close()
            return
        log.warning("http.header_timeout", client=self._client_text(), seconds=self.header_timeout)
        if self.cycle is not None and not self.cycle.response_complete:
            # The head of a pipelined request stalled while the one before is still being answered:
            # a 408 now would land inside that answer, so close once it is done.
            self.cycle.keep_alive = False
            return
        self._refuse_408("header_timeout", "请求头发送超时", "Request head timed out", self.header_timeout)

    # --- the body: no pause between reads longer than body_timeout ------------------------------
    def data_received(self, data: bytes) -> None:
        self._last_read = self.loop.time()
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._cancel_timers()
        super().on_message_complete()

    def _check_body(self) -> None:
        # One timer per body, not one per read: on expiry it looks how long ago the last read was.
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None:
            return
        now = self.loop.time()
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            self._last_read = now  # the server's turn, not the client's
        remaining = self._last_read + self.body_timeout - now
        if remaining > 0:
            self._body_timer = self.loop.call_later(remaining, self._check_body)
            return
        log.warning("http.body_timeout", client=self._client_text(), seconds=self.body_timeout)
        cycle = self.cycle
        answered = cycle.response_started
        # The route (if running) reads http.disconnect and its answer is dropped (uvicorn sends
        # nothing for a disconnected cycle, and logs no error for one that never answered).
        cycle.disconnected = True
        cycle.message_event.set()
        if answered:  # too late for a 408: part of an answer, or all of it, has gone out
            self.transport.close()
        else:
            self._refuse_408("body_timeout", "请求体发送超时", "Request body timed out", self.body_timeout)

    # --- common ---------------------------------------------------------------------------------
    def _refuse_408(self, code: str, zh: str, en: str, seconds: float) -> None:
        # Refused outside any route (no request, or its route cut off), as shared.web's 431 and 413.
        detail = "连接已关闭，请重新发送 / The connection is closed; send the request again"
        body = transport_refusal(408, code, zh, en, f"{seconds:g} 秒", f"{seconds:g} s", detail)
        head = [STATUS_LINE[408]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()  # after what is written has gone out

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _client_text(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()


def guarded_protocol(header_timeout_seconds: float, body_timeout_seconds: float) -> type[GuardedHttpProtocol]:
    """The protocol with fixed limits (tests; an embedding that does not read ``XIAOER_*``)."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {"header_timeout_seconds": header_timeout_seconds, "body_timeout_seconds": body_timeout_seconds},
    )
