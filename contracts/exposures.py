"""The exposure contract: a list a person was shown under an experiment, as the API logs it to Kafka.

The API writes one message per list served in a running experiment, keyed by the person (so it lands
on the partition of their ratings and watches, and the join agent that reads all three sees a person
on one worker); the join agent reads it. ``arm`` is the person's arm under A/B; under interleaving
it is ``INTERLEAVED`` and ``teams`` says which arm put each film there. ``served_ms`` is how long the
list took to build, and ``error`` why it could not be (its films are then empty): the experiment's
guardrails on latency and errors.

>>> raw = encode_exposure(Exposure("e1", 7, 0, [3, 1], [], "r-1", 1.7e9, 2.5))
>>> decode_exposure(raw)
Exposure(experiment='e1', user_id=7, arm=0, items=[3, 1], teams=[], request_id='r-1', timestamp=1700000000.0, \
served_ms=2.5, error='')
>>> decode_exposure(b'{"experiment": "e1"}')
Invalid(reason='Object missing required field `user_id`')
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from contracts.events import LIMITS, MAX_MOVIE_ID, Invalid

INTERLEAVED = -1
MAX_ITEMS = 100  # the longest list the API serves
NAME_PATTERN, NAME_MAX = r"^[a-z0-9][a-z0-9-]*$", 40  # an experiment's name
NAME = {"min_length": 1, "max_length": NAME_MAX, "pattern": NAME_PATTERN}


class Exposure(msgspec.Struct, array_like=False):
    experiment: Annotated[str, msgspec.Meta(**NAME)]
    user_id: Annotated[int, msgspec.Meta(**LIMITS["user_id"])]
    arm: Annotated[int, msgspec.Meta(ge=INTERLEAVED, le=7)]
    items: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=MAX_MOVIE_ID)]], msgspec.Meta(max_length=MAX_ITEMS)]
    teams: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=1)]], msgspec.Meta(max_length=MAX_ITEMS)]
    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    timestamp: Annotated[float, msgspec.Meta(**LIMITS["timestamp"])]
    served_ms: Annotated[float, msgspec.Meta(ge=0, le=3_600_000)] = 0.0
    error: Annotated[str, msgspec.Meta(max_length=200)] = ""


_decoder = msgspec.json.Decoder(Exposure)
_encoder = msgspec.json.Encoder()


def encode_exposure(exposure: Exposure) -> bytes:
    return _encoder.encode(exposure)


def decode_exposure(raw: bytes | None) -> Exposure | Invalid:
    """Pure, never raising: an exposure, or why not (an interleaved list needs a team for every film)."""
    try:
        exposure = _decoder.decode(raw or b"")
    except msgspec.ValidationError as exc:
        return Invalid(str(exc))
    except msgspec.DecodeError as exc:
        return Invalid(f"not JSON: {exc}")
    if exposure.error:
        return exposure if not exposure.items and not exposure.teams else Invalid("a list that failed has no films")
    if (exposure.arm == INTERLEAVED) != bool(exposure.teams) or len(exposure.teams) not in (0, len(exposure.items)):
        return Invalid("an interleaved exposure (arm -1) needs one team per film, and only it has teams")
    return exposure
