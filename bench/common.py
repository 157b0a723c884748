"""Shared by both peers: where the snapshot's files are, its taken_at, the policy's picklists and lengths."""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone
from pathlib import Path

from reconcile.policy import load_policy
from reconcile.clock import parse_utc

BOUNCE_TYPES = ("EMAIL_BOUNCE", "EMAIL_BOUNCED")
REPLY_TYPES = ("EMAIL_REPLY", "EMAIL_REPLIED")
EVENT_TYPES = BOUNCE_TYPES + REPLY_TYPES + ("LEAD_CATEGORY_UPDATED",)
SENDER_BOUNCE = "sender originated bounce"
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
EMAIL_STRIP = " \t\n\r\f\u00a0\u200b\ufeff"
TEXT_STRIP = " \t\n\r\f\u00a0"
TRUE = ("true", "1", "yes", "y", "t")
FALSE = ("false", "0", "no", "n", "f")
CHANGE_COLUMNS = ("object", "record_id", "field", "after", "status")


def one(snap: Path, stem: str) -> Path:
    hits = [p for p in sorted(snap.glob(stem + ".*")) if p.suffix in (".csv", ".parquet", ".jsonl")]
    return hits[0]


def clay_files(snap: Path) -> list[Path]:
    return [p for p in sorted((snap / "clay").glob("*")) if p.is_file() and not p.stem == "errors"]


def smartlead_files(snap: Path) -> list[Path]:
    return sorted(p for p in (snap / "smartlead").glob("campaign-*") if p.is_file())


def rel(snap: Path, p: Path) -> str:
    return p.relative_to(snap).as_posix()


def taken_at(snap: Path, system: str) -> datetime:
    m = tomllib.loads((snap / "manifest.toml").read_text("utf-8"))
    v = m.get("taken_at", {}).get(system)
    return parse_utc(v).astimezone(timezone.utc)


def sniff_delimiter(path: Path) -> str:
    with path.open(encoding="utf-8-sig") as fh:
        line = fh.readline()
    import re

    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def policy_bits():
    pol = load_policy(None)
    fields = {(f.object, f.field): f for f in pol.fields}
    industry = fields[("Lead", "Industry")]
    desc = fields[("Lead", "company_description__c")]
    reply = fields[("CampaignMember", "ReplyClassification__c")]
    return {
        "clay": pol.clay_columns,
        "industry_picklist": list(industry.picklist),
        "industry_max": industry.max_length,
        "desc_max": desc.max_length,
        "reply_picklist": list(reply.picklist),
        "reply_max": reply.max_length,
        "status": {k: f.status for k, f in fields.items()},
    }


def id18_numpy(values):
    """Vectorised Salesforce id → 18 characters over an array of str/None: checksum from a uint8 view, no row loop.

    Returns an object array (None where the value is blank or not a valid 15/18-character id)."""
    import numpy as np

    v = np.asarray(values, dtype=object)
    present = np.array([isinstance(x, str) for x in v]) if v.size else np.zeros(0, bool)
    s = np.char.strip(np.where(present, v, "").astype("U"), " ")
    n = np.char.str_len(s)
    raw = np.char.encode(s, "ascii", errors="replace") if s.size else s.astype("S")
    b = np.frombuffer(raw.astype("S18").tobytes(), dtype=np.uint8).reshape(-1, 18)
    alnum = ((b >= 48) & (b <= 57)) | ((b >= 65) & (b <= 90)) | ((b >= 97) & (b <= 122))
    ok = present & ((n == 15) & alnum[:, :15].all(1) | (n == 18) & alnum.all(1))
    upper = ((b[:, :15] >= 65) & (b[:, :15] <= 90)).reshape(-1, 3, 5)
    idx = (upper * (1 << np.arange(5))).sum(2)
    alphabet = np.frombuffer(ID_ALPHABET.encode(), dtype=np.uint8)
    suffix = alphabet[idx]
    given = b[:, 15:18].copy()
    given[(given >= 97) & (given <= 122)] -= 32
    ok &= (n == 15) | (given == suffix).all(1)
    out = np.concatenate([b[:, :15], suffix], axis=1).copy().view("S18").ravel().astype("U18").astype(object)
    out[~ok] = None
    return out
