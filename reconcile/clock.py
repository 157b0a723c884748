"""UTC time as the workbench writes and reads it: one text form (2026-11-27T06:00:00Z) and one parser."""

from __future__ import annotations

from datetime import datetime, timezone

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime | None = None) -> str:
    """`moment` (an aware datetime; now when None) as UTC text to the second: 2026-11-27T06:00:00Z."""
    return (moment or utc_now()).astimezone(timezone.utc).strftime(ISO_FORMAT)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 timestamp ('Z' or an offset; Python ≥ 3.11 reads both). A naive text stays naive."""
    return datetime.fromisoformat(str(text))
