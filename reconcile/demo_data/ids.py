"""Salesforce ids for the demo data: 15-char bodies with the 3-char case checksum, scalar and vectorised."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..ids import checksum_codes, id_checksum

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Key prefixes (first three characters of every id of an object).
LEAD, CONTACT, CAMPAIGN, CAMPAIGN_MEMBER, ORG = "00Q", "003", "701", "00v", "00D"

_SCRAMBLE = 198_491_317  # odd and not a multiple of 31, so i -> i * _SCRAMBLE mod 62**7 is a bijection
_SPACE = 62**7


def sf_id18(body: str) -> str:
    """Return the 18-char case-safe form of a 15-char id (an 18-char id gets its suffix recomputed)."""
    body = body.strip()[:15]
    if len(body) != 15 or not body.isalnum():
        raise ValueError(f"Salesforce id body '{body}' must be 15 alphanumeric characters.")
    return body + id_checksum(body)


def scenario_id(prefix: str, number: int) -> str:
    """A hand-made, mixed-case id for scenario record `number` (stable across seeds and sizes)."""
    return sf_id18(f"{prefix}Dm0ScN{number:04d}xY")


def id_series(prefix: str, pod: str, count: int, salt: int) -> pl.Series:
    """`count` distinct 18-char ids `prefix + pod + '000' + 7 scrambled base-62 chars + checksum`, vectorised."""
    if len(prefix) != 3 or len(pod) != 2:
        raise ValueError(f"id prefix '{prefix}' must have 3 characters and pod '{pod}' 2.")
    index = np.arange(count, dtype=np.int64)
    value = (index * _SCRAMBLE + salt * 7_919_993 + 1_234_567) % _SPACE
    digits = np.empty((count, 7), dtype=np.int64)
    for position in range(6, -1, -1):
        digits[:, position] = value % 62
        value //= 62
    chars = np.empty((count, 18), dtype=np.uint8)
    head = np.frombuffer((prefix + pod + "000").encode(), dtype=np.uint8)
    chars[:, :8] = head
    chars[:, 8:15] = np.frombuffer(BASE62.encode(), dtype=np.uint8)[digits]
    chars[:, 15:] = checksum_codes(chars[:, :15])
    return _bytes_to_series(chars)


def _bytes_to_series(chars: np.ndarray) -> pl.Series:
    width = chars.shape[1]
    packed = np.ascontiguousarray(chars).view(f"S{width}").ravel()
    return pl.Series(packed).cast(pl.String)
