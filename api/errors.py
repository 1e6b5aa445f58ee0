"""One shape for every error body, documented in the OpenAPI, and the handlers that produce it.

``{"error": {"status": 404, "code": "not_found", "message": "…", "details": [...]}}``: clients
branch on ``code``, show ``message``, and read ``details`` (a list, per field for validation).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from storage.outages import OUTAGES, server_of

CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 410: "gone",
         413: "too_large", 422: "invalid", 429: "rate_limited", 503: "unavailable", 500: "internal"}


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses, all with the error body."""
    return {s: {"model": ErrorBody, "description": CODES.get(s, "error").replace("_", " ")} for s in statuses}


def document_outages(router: APIRouter) -> APIRouter:
    """Add 503 to every route's OpenAPI responses: any of them may meet a server that is down
    (``storage.outages``); call it before the router is included."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.responses = {**documented(503), **route.responses}
    return router


def error_response(status: int, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(status=status, code=CODES.get(status, "error"), message=message,
                                       details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def allowed_methods(app: FastAPI, scope: Any) -> list[str]:
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.path_regex.match(scope["path"]):
            methods |= route.methods or set()
    return sorted(methods)


def install(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        details = exc.detail if isinstance(exc.detail, list) else None
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 400 and message == "There was an error parsing the body":
            # a body that is not JSON at all is as invalid as one with a wrong field: one status for both
            return error_response(422, "body: not valid JSON", [{"loc": ["body"], "msg": "not valid JSON",
                                                                  "type": "json_invalid"}])
        if exc.status_code == 405:  # every method the path has, not only those of the first route matched
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return error_response(exc.status_code, message, details, headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
                   for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return error_response(422, f"{where}: {first['msg']}" if where else str(first["msg"]), details)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # a server of the stack is down or restarting: the client may try again, nothing was changed
        # that it would not see (events are acknowledged by Kafka before their 202)
        return error_response(503, f"{server_of(exc)} unavailable ({type(exc).__name__}): try again shortly",
                              None, {"Retry-After": "1"})

    app.add_exception_handler(StarletteHTTPException, http_error)
    for outage in OUTAGES:
        app.add_exception_handler(outage, unavailable)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
