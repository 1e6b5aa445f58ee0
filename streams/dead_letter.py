"""Dead-letter records: the refused message's original bytes, where it came from, and why."""

from __future__ import annotations

import base64
import json


def dead_letter_record(raw: bytes | None, topic: str, partition: int, offset: int, reason: str) -> bytes:
    return json.dumps({
        "reason": reason,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "original_b64": base64.b64encode(raw or b"").decode(),
    }).encode()
