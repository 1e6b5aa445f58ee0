"""The base of every request body: unknown fields refused, no coercion, and the schema's integers.

Strict, so ``"5"`` is not an int and a typo in a field name is a 422, not a silent default. But JSON
Schema's ``integer`` includes ``5.0`` and pydantic's strict mode refuses it (schemathesis: a
schema-valid key creation answered 422), so a whole-number float in an int field becomes that int
before validation. Done on the model, not as a field type: a validator wrapped round a constrained
int makes pydantic publish its bounds as floats or as "ge"/"le", which is not JSON Schema.
"""

from __future__ import annotations

from functools import cache
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return get_origin(annotation) in (Union, UnionType) and int in get_args(annotation)


@cache
def _int_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in model.model_fields.items() if _is_int(field.annotation))


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        ints = _int_fields(cls)
        if not ints or not isinstance(data, dict):
            return data
        return {name: int(value) if name in ints and isinstance(value, float) and value.is_integer() else value
                for name, value in data.items()}
