"""Turn logical values (bools, instants, emails, ids) into the text each export writes.

With quirks on, spellings vary per row the way the real exports vary (source_schemas §5.2); with quirks off,
every value has one plain spelling. Vectorised for the filler, scalar for the hand-made scenarios.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from ..clock import parse_utc

# Boolean spellings, as (true, false) pairs.
BOOL_PLAIN = ("true", "false")
BOOL_EXCEL = ("TRUE", "FALSE")
BOOL_NUMERIC = ("1", "0")
BOOL_WORDS = ("yes", "no")
BOOL_BLANK_FALSE = ("true", "")

# Timestamp spellings.
TS_MILLIS_Z = "millis_z"  # 2026-11-25T10:00:00.000Z   (Data Loader, Smartlead CSV)
TS_Z = "z"  # 2026-11-25T10:00:00Z
TS_MICROS_UTC = "micros_utc"  # 2026-11-25T10:00:00.123456+00:00   (Smartlead webhooks)
TS_OFFSET_UTC = "offset_utc"  # 2026-11-25T10:00:00+00:00
TS_MINUS5 = "minus5"  # 2026-11-25T05:00:00-05:00   (Pardot v5, a user's zone)

_STRFTIME = {
    TS_MILLIS_Z: ("%Y-%m-%dT%H:%M:%S%.3fZ", 0),
    TS_Z: ("%Y-%m-%dT%H:%M:%SZ", 0),
    TS_MICROS_UTC: ("%Y-%m-%dT%H:%M:%S%.6f+00:00", 0),
    TS_OFFSET_UTC: ("%Y-%m-%dT%H:%M:%S+00:00", 0),
    TS_MINUS5: ("%Y-%m-%dT%H:%M:%S-05:00", -5 * 3_600_000_000),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Renderer:
    """Renders values for one snapshot; `quirks=False` collapses every spelling to the plain one."""

    def __init__(self, quirks: bool, rng: np.random.Generator):
        self.quirks = quirks
        self.rng = rng

    # vectorised -------------------------------------------------------------------------------------
    def bools(self, values: np.ndarray, *styles: tuple[str, str]) -> pl.Series:
        styles = styles if (self.quirks and styles) else (BOOL_PLAIN,)
        pick = self.rng.integers(0, len(styles), size=len(values)) if len(styles) > 1 else 0
        code = pick * 2 + (~np.asarray(values, dtype=bool)).astype(np.int64)  # 2k = style k true, 2k+1 = false
        spellings = [text for style in styles for text in style]
        return pl.Series(spellings, dtype=pl.String).gather(np.broadcast_to(code, len(values)))

    def timestamps(self, epoch_us: np.ndarray, *styles: str) -> pl.Series:
        styles = styles if (self.quirks and styles) else (TS_MILLIS_Z,)
        pick = pl.Series(self.rng.integers(0, len(styles), size=len(epoch_us)))
        frame = pl.DataFrame({"t": np.asarray(epoch_us, dtype=np.int64), "k": pick})
        expr = None
        for index, style in enumerate(styles):
            fmt, shift = _STRFTIME[style]
            text = pl.from_epoch(pl.col("t") + shift, time_unit="us").dt.strftime(fmt)
            expr = (
                pl.when(pl.col("k") == index).then(text) if expr is None else expr.when(pl.col("k") == index).then(text)
            )
        return frame.select(expr.otherwise(None).alias("ts")).to_series()

    def emails(self, emails: pl.Series, mixed_case: float, trailing_space: float) -> pl.Series:
        """Raw emails as a source spells them: some Title-Cased, some with a trailing space."""
        if not self.quirks:
            return emails
        n = len(emails)
        title = pl.Series(self.rng.random(n) < mixed_case)
        space = pl.Series(self.rng.random(n) < trailing_space)
        frame = pl.DataFrame({"e": emails, "title": title, "space": space})
        cased = pl.when(pl.col("title")).then(pl.col("e").str.to_titlecase()).otherwise(pl.col("e"))
        spaced = pl.when(pl.col("space")).then(pl.concat_str([cased, pl.lit(" ")])).otherwise(cased)
        return frame.select(spaced.alias("e")).to_series()

    def lead_ids(self, ids18: pl.Series, short_share: float) -> pl.Series:
        """Lead ids as a report-fed source holds them: a share cut to the 15-char, case-sensitive form."""
        if not self.quirks:
            return ids18
        short = pl.Series(self.rng.random(len(ids18)) < short_share)
        frame = pl.DataFrame({"i": ids18, "s": short})
        return frame.select(
            pl.when(pl.col("s")).then(pl.col("i").str.slice(0, 15)).otherwise(pl.col("i")).alias("i")
        ).to_series()

    # scalar (scenarios) ------------------------------------------------------------------------------
    def bool1(self, value: bool, style: tuple[str, str] = BOOL_PLAIN) -> str:
        style = style if self.quirks else BOOL_PLAIN
        return style[0] if value else style[1]

    def ts1(self, epoch_us: int, style: str = TS_MILLIS_Z) -> str:
        style = style if self.quirks else TS_MILLIS_Z
        fmt, shift = _STRFTIME[style]
        moment = _EPOCH + timedelta(microseconds=epoch_us + shift)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if "%.3f" in fmt:
            text += f".{moment.microsecond // 1000:03d}"
        elif "%.6f" in fmt:
            text += f".{moment.microsecond:06d}"
        return text + fmt[fmt.index("%S") + 2 :].replace("%.3f", "").replace("%.6f", "")

    def email1(self, email: str, spelled: str) -> str:
        """`spelled` is how the quirky source writes `email` (case, spaces); plain mode writes `email`."""
        return spelled if self.quirks else email

    def id1(self, id18: str, short: bool = False) -> str:
        return id18[:15] if (short and self.quirks) else id18


def parse_instant(text: str) -> int:
    """ISO 8601 with Z or an offset → epoch microseconds (used for taken_at and scenario times)."""
    moment = parse_utc(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def weighted_choice(rng: np.random.Generator, pairs: list[tuple[str, int]], size: int) -> np.ndarray:
    """Indexes into `pairs`, drawn with the pairs' weights."""
    weights = np.array([w for _, w in pairs], dtype=float)
    return rng.choice(len(pairs), size=size, p=weights / weights.sum())
