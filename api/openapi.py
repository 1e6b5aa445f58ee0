"""The OpenAPI document with integer bounds as integers.

FastAPI's OpenAPI model types ``minimum`` and ``maximum`` as floats, so an id's bound 2^63 - 1 is served
as 9.223372036854776e18, which is 2^63: a client or a test generator reading the schema takes
2^63 + 191 for a valid id, and the route refuses it. The bounds are put back as the integers the routes
validate with (the largest a signed 64-bit id, ``contracts.events.MAX_ID``).

>>> doc = {"a": {"type": "integer", "maximum": float(2**63 - 1), "minimum": 0.0},
...        "b": {"type": "number", "maximum": 0.5}}
>>> exact_integer_bounds(doc)
>>> doc
{'a': {'type': 'integer', 'maximum': 9223372036854775807, 'minimum': 0}, 'b': {'type': 'number', 'maximum': 0.5}}
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from contracts.events import MAX_ID

BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def exact_integer_bounds(node: Any) -> None:
    """Every integer schema's float bounds as integers, clamped to signed 64 bits, in place."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in BOUNDS:
                value = node.get(key)
                if isinstance(value, float) and value.is_integer():
                    node[key] = max(min(int(value), MAX_ID), -MAX_ID - 1)
        for child in node.values():
            exact_integer_bounds(child)
    elif isinstance(node, list):
        for child in node:
            exact_integer_bounds(child)


def install(app: FastAPI) -> None:
    """Serve (and cache) the app's document with exact integer bounds."""
    made = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            exact_integer_bounds(made())  # ``made`` caches the document it returns on the app
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
