"""Past what the process can serve, refuse the costly requests at once instead of queueing them all.

Two signals, either of which refuses a costly request with ``503`` and ``Retry-After: 1``:

- the costly requests in flight (``api_max_in_flight``): the loop serves its tasks in turn, so each
  waits for all the others, about 1.5 ms of CPU apiece here (event intake is not counted: most of its
  time is spent waiting for Kafka's acknowledgement, not on the CPU);
- the event loop's lag, how late a timer set every ``EVERY_S`` fires (the queue in the sockets and in
  cheap routes that no count shows): ``LATE_TICKS`` ticks in a row more than ``api_shed_lag_ms`` late
  (one long pause, a collection or a slow start-up, is not overload).

A refusal costs a fraction of an answer, so the loop catches up. The cheap routes keep answering:
health, metrics, the page shells and static files, log-in, operators, and event intake, so no event a
platform sends is refused for the reading load.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.middleware import security_headers

EVERY_S = 0.01
LATE_TICKS = 3  # ticks in a row past the limit (at 500 requests/s within capacity a tick is ~1 ms late)
KEPT_PREFIXES = ("/api/events/", "/api/auth/", "/api/admin/")  # intake, log-in and operators: always served

LATE = Histogram("cinestream_event_loop_late_seconds", "how late the API's event-loop ticks fire",
                 buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
STALL_S = 0.25  # a tick this late is logged: one turn of the loop held it, which no request can afford
SHED = Counter("cinestream_http_shed_total", "costly requests refused with 503 past capacity")
# the one error shape (api/errors.py) with the security headers (api/middleware.py), built once: a refusal
# is sent before the framework sees the request, and must cost a fraction of an answer
_REFUSAL = error_response(503, "the server is at capacity: try again in a second", None, {"Retry-After": "1"})
REFUSAL_HEADERS, REFUSAL_BODY = [*_REFUSAL.raw_headers, *security_headers(tls=False)], bytes(_REFUSAL.body)


async def refuse(send: Send) -> None:
    SHED.inc()
    await send({"type": "http.response.start", "status": 503, "headers": REFUSAL_HEADERS})
    await send({"type": "http.response.body", "body": REFUSAL_BODY})


class LoopLag:
    """How late the event loop's ticks come, sampled by ``run`` (started with the application);
    ``limit_s`` 0: never behind."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.late_in_a_row = 0

    async def run(self) -> None:
        if not self.limit_s:
            return
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(EVERY_S)
            late = loop.time() - start - EVERY_S
            LATE.observe(late)
            if late > STALL_S:
                logging.getLogger(__name__).warning("event loop %.0f ms late", late * 1e3)
            self.late_in_a_row = self.late_in_a_row + 1 if late > self.limit_s else 0

    @property
    def behind(self) -> bool:
        return self.late_in_a_row >= LATE_TICKS


def costly(scope: Scope) -> bool:
    """A request that ranks, searches or reads a person's data: the API's routes other than those kept."""
    path: str = scope["path"]
    return path.startswith("/api/") and not path.startswith(KEPT_PREFIXES)


class Admission:
    """Wraps the whole application (``api.main.AdmittedAPI``): a refusal skips every middleware."""

    def __init__(self, app: ASGIApp, lag: LoopLag, max_in_flight: int) -> None:
        self.app = app
        self.lag = lag
        self.max_in_flight = max_in_flight or 1 << 62
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not costly(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight or self.lag.behind:
            await refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
