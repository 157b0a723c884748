"""Small shared formats: value text for CSV/SOQL/explain output, canonical JSON and its hash."""

from __future__ import annotations

import hashlib
import json


def as_text(value, blank: str = "") -> str:
    """A value as text: `blank` for None, true/false for booleans, else str(value)."""
    if value is None:
        return blank
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical_json(body) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes a hash or signature is computed over."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_json(body) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()
