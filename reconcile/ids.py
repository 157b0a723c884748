"""Salesforce ids in Python (the SQL macro sf_id18 is the set-based twin used by the models)."""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SHAPE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def suffix(body: str) -> str:
    return "".join(_ALPHABET[sum(1 << j for j, c in enumerate(body[i:i + 5]) if "A" <= c <= "Z")] for i in (0, 5, 10))


def id18(value: str) -> str | None:
    """15 → 18 characters; an 18-character id must carry its checksum (case-insensitively). Else None."""
    s = (value or "").strip()
    if not _SHAPE.fullmatch(s):
        return None
    body = s[:15]
    if len(s) == 18 and s[15:].upper() != suffix(body):
        return None
    return body + suffix(body)
