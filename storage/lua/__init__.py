"""The Redis scripts, one folder a model (``<model>/<name>.lua``), read by that model's store alone."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def script(model: str, *names: str) -> str:
    """The named scripts of ``model`` joined in order (a later one may call a function an earlier defines).

    >>> "redis.call" in script("trending", "add")
    True
    """
    return "\n".join((_HERE / model / f"{name}.lua").read_text() for name in names)
