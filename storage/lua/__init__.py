"""The Redis scripts, one folder a model (``<model>/<name>.lua``), read by that model's store alone."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def script(model: str, *names: str, constants: tuple[tuple[str, str], ...] = ()) -> str:
    """The named scripts of ``model`` joined in order (a later one may call a function an earlier defines),
    after ``constants`` as Lua locals: a key prefix the scripts build keys with is then written once, in
    the Python module that owns those keys.

    >>> "redis.call" in script("trending", "add")
    True
    >>> script("trending", "add", constants=(("ROW", "mf:u:"),)).splitlines()[0]
    'local ROW = "mf:u:"'
    """
    header = [f"local {name} = {json.dumps(value)}" for name, value in constants]
    return "\n".join(header + [(_HERE / model / f"{name}.lua").read_text() for name in names])
