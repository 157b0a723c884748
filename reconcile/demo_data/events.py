"""Smartlead webhook payloads (smartlead/events.jsonl), old and new field names mixed (source_schemas §1.8)."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import vocab
from .filler_sources import SMARTLEAD_LEAD_BASE, SMARTLEAD_MAP_BASE
from .population import Population, words
from .render import TS_MICROS_UTC, TS_MILLIS_Z, TS_OFFSET_UTC, Renderer

REPLY_TEXTS = {
    "Interested": "Sounds interesting - can you send pricing for the EU?",
    "Meeting Request": "Happy to talk. Does Tuesday 10:00 CET work?",
    "Not Interested": "Thanks, but we are not looking at new suppliers this year.",
    "Do Not Contact": "Please remove me from your list and do not contact me again.",
    "Information Request": "Could you share the technical data sheet?",
    "Out Of Office": "I am out of the office until Monday with limited access to email.",
    "Wrong Person": "I am not the right person; please contact our purchasing team.",
    "Uncategorizable by AI": "ok",
}
BOUNCE_TEXT = "550 5.1.1 The email account that you tried to reach does not exist."
TS_STYLES = (TS_MICROS_UTC, TS_MILLIS_Z, TS_OFFSET_UTC)  # the three event_timestamp spellings


def category_id(name: str) -> int:
    return vocab.REPLY_CATEGORIES.index(name) + 1


def filler_events(pop: Population, r: Renderer) -> pl.DataFrame:
    """Columns `ts_us` (sort key) and `line` (one JSON payload)."""
    cm = pop.cm
    bounce = np.flatnonzero(cm["bounce"])
    reply = np.flatnonzero(cm["events"] & cm["replied"])
    other = np.flatnonzero(cm["events"] & ~cm["replied"] & ~cm["bounce"])
    parts = [
        _events(pop, r, bounce, "bounce", cm["reply_us"][bounce]),
        _events(pop, r, reply, "reply", cm["reply_us"][reply]),
        _events(pop, r, reply, "category", cm["reply_us"][reply] + cm["category_lag_us"][reply]),
        _events(pop, r, other, "activity", cm["reply_us"][other]),
    ]
    return pl.concat(parts)


def _events(pop: Population, r: Renderer, rows: np.ndarray, kind: str, ts_us: np.ndarray) -> pl.DataFrame:
    cm = pop.cm
    k = len(rows)
    old = r.rng.random(k) < 0.25 if r.quirks else np.zeros(k, bool)
    li = cm["lead"][rows]
    sl_campaign = np.array(pop.campaign_sl_ids, dtype=np.int64)[cm["campaign"][rows]]
    category = words(vocab.FILLER_CATEGORY_NAMES, cm["category"][rows])
    f = pl.DataFrame(
        {
            "old": old,
            "ts_us": ts_us.astype(np.int64),
            "ts": r.timestamps(ts_us, *TS_STYLES),
            "cid": pl.Series(sl_campaign).cast(pl.String),
            "lid": pl.Series(SMARTLEAD_LEAD_BASE + li).cast(pl.String),
            "mid": pl.Series(SMARTLEAD_MAP_BASE + rows).cast(pl.String),
            "email": r.emails(pop.lead_emails.gather(li), 0.1, 0.0),
            "first": words(vocab.FIRST_NAMES, pop.lead["first"][li]),
            "seq": pl.Series(cm["sequence"][rows]).cast(pl.String),
            "category": category,
            "category_id": category.replace_strict({c: str(category_id(c)) for c in vocab.FILLER_CATEGORY_NAMES}),
            "text": category.replace_strict(REPLY_TEXTS),
            "sender": words(vocab.SENDERS, rows % len(vocab.SENDERS)),
        }
    )
    q = pl.col
    old_c = q("old")

    def lit(text: str) -> pl.Expr:
        return pl.lit(text)

    campaign = pl.when(old_c).then(pl.concat_str([lit('"'), q("cid"), lit('"')])).otherwise(q("cid"))
    stats = pl.concat_str([lit("st-"), q("mid"), lit("-"), q("seq")])
    head = [
        lit('{"event_type": "'),
        _event_type(kind),
        lit('", "event_timestamp": "'),
        q("ts"),
        lit('", "campaign_id": '),
        campaign,
    ]
    email_fields = (
        pl.when(old_c)
        .then(pl.concat_str([lit(', "lead_email": "'), q("email"), lit('", "to_email": "'), q("email"), lit('"')]))
        .otherwise(
            pl.concat_str([lit(', "sl_lead_email": "'), q("email"), lit('", "to_email": "'), q("email"), lit('"')])
        )
    )
    ids = [lit(', "sl_email_lead_id": "'), q("lid"), lit('", "sl_email_lead_map_id": '), q("mid")]
    if kind == "bounce":  # no sl_email_lead_id in the EMAIL_BOUNCE structure
        body = [
            lit(', "sl_email_lead_map_id": '),
            q("mid"),
            email_fields,
            lit(', "from_email": "'),
            q("sender"),
            lit('", "sequence_number": '),
            q("seq"),
            lit(', "is_bounced": true, "stats_id": "'),
            stats,
            lit(f'", "bounce_message": {{"text": "{BOUNCE_TEXT}"}}}}'),
        ]
    elif kind == "reply":
        body = [
            *ids,
            email_fields,
            lit(', "from_email": "'),
            q("sender"),
            lit('", "sequence_number": '),
            q("seq"),
            lit(', "stats_id": "'),
            stats,
            lit('", "reply_message": {"text": "'),
            q("text"),
            lit('", "time": "'),
            q("ts"),
            lit('"}}'),
        ]
    elif kind == "category":
        body = [
            lit(', "lead_id": "'),
            q("lid"),
            lit('", "sl_email_lead_map_id": '),
            q("mid"),
            email_fields,
            lit(', "lead_category": {"old_id": null, "old_name": null, "new_id": '),
            q("category_id"),
            lit(', "new_name": "'),
            q("category"),
            lit('"}, "lead_data": {"email": "'),
            q("email"),
            lit('", "first_name": "'),
            q("first"),
            lit('"}}'),
        ]
    else:
        body = [*ids, email_fields, lit(', "sequence_number": '), q("seq"), lit(', "stats_id": "'), stats, lit('"}')]
    return f.select(q("ts_us"), pl.concat_str([*head, *body]).alias("line"))


def _event_type(kind: str) -> pl.Expr:
    new, old = {
        "bounce": ("EMAIL_BOUNCE", "EMAIL_BOUNCED"),
        "reply": ("EMAIL_REPLY", "EMAIL_REPLIED"),
        "category": ("LEAD_CATEGORY_UPDATED", "LEAD_CATEGORY_UPDATED"),
    }.get(kind, (None, None))
    if new is None:  # noise the reconciler ignores
        return pl.when(pl.col("seq") == "1").then(pl.lit("EMAIL_SENT")).otherwise(pl.lit("EMAIL_OPEN"))
    return pl.when(pl.col("old")).then(pl.lit(old)).otherwise(pl.lit(new))
