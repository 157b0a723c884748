"""Smartlead API v1 → smartlead/campaign-<id>.csv, the leads export per campaign exactly as Smartlead sends it.

    GET {SMARTLEAD_BASE_URL}/campaigns?api_key=…                    every campaign (unless --campaign names them)
    GET {SMARTLEAD_BASE_URL}/campaigns/{id}/leads-export?api_key=…  text/csv (reference/source_schemas.md §1.2, §1.4)

The key goes in the query string (Smartlead has no header auth); it is registered with credentials.redact before
the first request and never written anywhere. Smartlead allows 10 requests per 2 s per key: a client-side limiter
keeps under it and a 429 is retried after Retry-After (or with exponential backoff).
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..credentials import register_secret
from ..errors import PullError
from ..files import write_atomic
from .http import ApiClient, RateLimiter, message_of
from ..clock import iso

DEFAULT_BASE_URL = "https://server.smartlead.ai/api/v1"
LIMIT, WINDOW_S = 10, 2.0
EXPORT_NAME = re.compile(r"campaign[-_ ]?\d+([-_ .(].*)?\.(csv|parquet|jsonl)$", re.IGNORECASE)


@dataclass
class SourcePull:
    """What one source's pull wrote: files (snapshot-relative), records, API requests, taken_at, notes."""

    system: str
    files: list[str] = field(default_factory=list)
    records: int = 0
    requests: int = 0
    taken_at: str = ""
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # records per object (Salesforce)
    detail: dict = field(default_factory=dict)  # more for manifest.toml [pulled.<source>]


def now_utc() -> str:
    return iso()


def smartlead_client(env=None, sleep=None) -> ApiClient:
    env = os.environ if env is None else env
    key = (env.get("SMARTLEAD_API_KEY") or "").strip()
    if not key:
        raise PullError(
            "SMARTLEAD_API_KEY is not set: export the key from Smartlead (Settings → Activate API) "
            "into the environment to pull Smartlead, or leave smartlead out of --sources."
        )
    register_secret(key)
    base = (env.get("SMARTLEAD_BASE_URL") or DEFAULT_BASE_URL).strip()
    client = ApiClient("Smartlead", base, limiter=RateLimiter(LIMIT, WINDOW_S), **({"sleep": sleep} if sleep else {}))
    client.api_key = key
    return client


def _refused(r) -> str | None:
    if r.status_code == 401:
        return (
            f"Smartlead refused SMARTLEAD_API_KEY (HTTP 401: {message_of(r)}): copy the key again from "
            "Smartlead → Settings → Activate API."
        )
    if r.status_code == 403:
        return (
            f"Smartlead refused the API for this key (HTTP 403: {message_of(r)}): the workspace's plan must "
            "include API access (the Basic plan does not)."
        )
    return None


def list_campaigns(client: ApiClient) -> list[int]:
    r = client.get("/campaigns", params={"api_key": client.api_key}, refused=_refused)
    try:
        doc = r.json()
        return sorted(int(c["id"]) for c in (doc if isinstance(doc, list) else doc.get("data", [])))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PullError(
            "Smartlead's campaign list is not a JSON list of campaigns with an 'id': check "
            "SMARTLEAD_BASE_URL (it must end in /api/v1)."
        ) from None


def download_export(client: ApiClient, campaign_id: int) -> bytes:
    def refused(r):
        if r.status_code == 404:
            return (
                f"Smartlead has no campaign '{campaign_id}' (HTTP 404: {message_of(r)}): check --campaign or "
                "the policy's campaign list."
            )
        return _refused(r)

    r = client.get(f"/campaigns/{campaign_id}/leads-export", params={"api_key": client.api_key}, refused=refused)
    body = r.content
    header = next(csv.reader(io.StringIO(body.decode("utf-8-sig", "replace").split("\n", 1)[0])), [])
    if not {"id", "email"} <= {h.strip().lower() for h in header}:
        raise PullError(
            f"Smartlead's leads export of campaign '{campaign_id}' is not the leads-export CSV (its "
            f"first line has no 'id' and 'email' columns): check SMARTLEAD_BASE_URL."
        )
    return body


def pull_smartlead(
    out_dir: str | Path, env=None, campaigns=None, progress=None, taken_at: str | None = None, sleep=None
) -> SourcePull:
    """Write OUT/smartlead/campaign-<id>.csv for every campaign (or `campaigns`), replacing earlier exports."""
    out = Path(out_dir) / "smartlead"
    client = smartlead_client(env, sleep=sleep)
    result = SourcePull("smartlead", taken_at=taken_at or now_utc())
    ids = sorted({int(c) for c in campaigns}) if campaigns else list_campaigns(client)
    exports = {}
    for n, cid in enumerate(ids, 1):
        exports[cid] = download_export(client, cid)
        if progress:
            progress(f"Smartlead: campaign {cid} ({n} of {len(ids)})")
    for old in out.glob("*") if out.is_dir() else ():
        if EXPORT_NAME.match(old.name):
            old.unlink()  # a snapshot holds what this pull saw, not yesterday's campaigns too
    for cid, body in exports.items():
        write_atomic(out / f"campaign-{cid}.csv", body)
        result.files.append(f"smartlead/campaign-{cid}.csv")
        result.records += _records(body)
    result.requests = client.requests
    if client.throttled:
        result.notes.append(f"{client.throttled} answer(s) 429 Too Many Requests, retried")
    return result


def _records(body: bytes) -> int:
    return max(0, sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig", "replace")))) - 1)
