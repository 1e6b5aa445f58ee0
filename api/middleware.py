"""Security headers and Prometheus request metrics, as one pure ASGI middleware (no per-request task).

CSP without ``unsafe-inline`` (the web app's scripts and styles are files under /static), no framing,
no MIME sniffing, a strict referrer policy, and HSTS when the request came over TLS.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin"),
           (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_PLAIN = [*HEADERS, (b"content-security-policy", CSP.encode())]
_TLS = [*_PLAIN, HSTS]


def security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    """What every answer carries, HSTS only over TLS."""
    return _TLS if tls else _PLAIN

REQUESTS = Counter("cinestream_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("cinestream_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


class SecureAndMeasured:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *security_headers(tls)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", "unmatched")
            REQUESTS.labels(scope["method"], name, str(status[0])).inc()
            LATENCY.labels(scope["method"], name).observe(time.perf_counter() - started)
