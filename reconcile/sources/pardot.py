"""Account Engagement (Pardot) API v5 → pardot/prospects.csv with the columns the snapshot contract reads.

    GET {PARDOT_BASE_URL}/api/v5/objects/prospects?fields=…&limit=1000&orderBy=id   then ?nextPageToken=…&fields=…
    Authorization: Bearer <the integration user's Salesforce OAuth token>, Pardot-Business-Unit-Id: 0Uv…

(reference/source_schemas.md §2.1: `fields` is required; with a token only `fields` may be sent; one token sequence
returns at most 100,000 records, then `Pardot-Warning: 203` and no next token — the pull starts a new sequence
ordered by id with `idGreaterThan` the last id it got, so nothing is skipped or read twice.)
PARDOT_BASE_URL is https://pi.pardot.com (production) or https://pi.demo.pardot.com (demo / developer orgs).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..csvsafe import LineWriter
from ..credentials import register_secret
from ..errors import PullError
from ..files import write_atomic
from ..files import as_text
from .http import ApiClient
from .smartlead import SourcePull, now_utc

DEFAULT_BASE_URL = "https://pi.pardot.com"
PATH = "/api/v5/objects/prospects"
COLUMNS = (
    "id",
    "email",
    "salesforceId",
    "salesforceLeadId",
    "salesforceContactId",
    "isEmailHardBounced",
    "emailBouncedAt",
    "updatedAt",
)
PAGE = 1000


def pardot_settings(env=None) -> tuple[str, str]:
    env = os.environ if env is None else env
    bu = (env.get("PARDOT_BUSINESS_UNIT_ID") or "").strip()
    if not bu:
        raise PullError(
            "PARDOT_BUSINESS_UNIT_ID is not set: export the Account Engagement business unit id "
            "(Setup → Account Engagement Account Setup, '0Uv…', 18 characters) to pull Pardot, or leave "
            "pardot out of --sources."
        )
    if not (bu.startswith("0Uv") and len(bu) == 18):
        raise PullError(
            f"PARDOT_BUSINESS_UNIT_ID '{bu}' is not a business unit id: it starts with '0Uv' and has 18 "
            "characters (Setup → Account Engagement Account Setup)."
        )
    return (env.get("PARDOT_BASE_URL") or DEFAULT_BASE_URL).strip(), bu


def _refused(r) -> str | None:
    try:
        doc = r.json()
        code, msg = doc.get("code"), doc.get("message")
    except (ValueError, AttributeError):
        code, msg = None, r.text[:200].strip()
    if r.status_code in (401, 403):
        return (
            f"Account Engagement refused the request (HTTP {r.status_code}, code {code}: {msg}): the Salesforce "
            "integration user needs Account Engagement access and an app with the pardot_api scope; check "
            "PARDOT_BUSINESS_UNIT_ID and PARDOT_BASE_URL (https://pi.demo.pardot.com for demo orgs)."
        )
    return f"Account Engagement refused the prospect query (HTTP {r.status_code}, code {code}: {msg})."


def pull_pardot(
    out_dir: str | Path,
    token: str,
    env=None,
    progress=None,
    taken_at: str | None = None,
    page: int = PAGE,
    session=None,
    renew=None,
) -> SourcePull:
    """Write OUT/pardot/prospects.csv (replacing other prospect files there) from the v5 prospect query.

    `renew()` returns a fresh Salesforce access token (client credentials / JWT log in again) or None (a pasted
    session cannot be renewed). When Account Engagement answers 401 code 184 (the token expired or was revoked
    mid-pull), the same request is sent once more with the renewed token; the pages already read are kept."""
    base, bu = pardot_settings(env)
    register_secret(token)
    client = ApiClient("Account Engagement", base, session=session)
    headers = _Headers(token, bu, renew)
    fields = ",".join(COLUMNS)
    result = SourcePull("pardot", taken_at=taken_at or now_utc())
    rows: list[dict] = []
    after = None
    while True:
        params = {"fields": fields, "limit": page, "orderBy": "id"}
        if after is not None:
            params["idGreaterThan"] = after
        got, capped = _sequence(client, params, headers, fields, rows, progress)
        if not (capped and got):
            break
        last = rows[-1].get("id")
        if not isinstance(last, int):
            raise PullError(
                f"Account Engagement returned prospect id '{last}', not a number: cannot continue past "
                "the 100,000-records-per-query cap."
            )
        after = last
        result.notes.append(f"100,000-record cap reached; continued after id {after}")
    out = Path(out_dir) / "pardot"
    for old in out.glob("*") if out.is_dir() else ():
        if "prospect" in old.name.lower() and old.suffix.lower() in (".csv", ".parquet", ".jsonl"):
            old.unlink()
    buf = io.StringIO()
    w = LineWriter(buf)
    w.writerow(COLUMNS)
    for p in rows:
        w.writerow([as_text(p.get(c)) for c in COLUMNS])
    write_atomic(out / "prospects.csv", buf.getvalue())
    result.files, result.records, result.requests = ["pardot/prospects.csv"], len(rows), client.requests
    if headers.renewals:
        result.notes.append(f"the Salesforce token expired mid-pull; logged in again {headers.renewals}×")
    return result


class _TokenRefused(Exception):
    pass


class _Headers:
    """The request headers, with the bearer token renewed once per refusal (code 184) when `renew` can."""

    def __init__(self, token: str, bu: str, renew=None):
        self.token, self.bu, self.renew, self.renewals = token, bu, renew, 0
        self._message = ""  # the refusal text of the last 401 code 184, said if the token cannot be renewed

    def get(self, client, params):
        try:
            return client.get(PATH, params=params, headers=self._now(), refused=self._refused)
        except _TokenRefused:
            token = self.renew() if self.renew else None
            if not token:
                raise PullError(self._message) from None
            register_secret(token)
            self.token, self.renewals = token, self.renewals + 1
            return client.get(PATH, params=params, headers=self._now(), refused=_refused)

    def _now(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Pardot-Business-Unit-Id": self.bu}

    def _refused(self, r):
        message = _refused(r)
        # 184: the token expired or was revoked (developer.salesforce.com/docs/marketing/pardot/guide/error-codes.html)
        if r.status_code == 401 and _code(r) == 184:
            self._message = message
            raise _TokenRefused()
        return message


def _code(r):
    try:
        return r.json().get("code")
    except (ValueError, AttributeError):
        return None


def _sequence(client, params, headers, fields, rows, progress) -> tuple[int, bool]:
    """One nextPageToken sequence; (records it returned, whether it stopped at the cap)."""
    got = 0
    r = headers.get(client, params)
    while True:
        try:
            doc = r.json()
            values = doc["values"]
        except (ValueError, KeyError, TypeError):
            raise PullError(
                'Account Engagement\'s answer is not a v5 query result ({"values": …}): check '
                "PARDOT_BASE_URL (https://pi.pardot.com, or https://pi.demo.pardot.com)."
            ) from None
        rows.extend(values)
        got += len(values)
        if progress:
            progress(f"Pardot: {len(rows)} prospects")
        token = doc.get("nextPageToken")
        if not token:
            return got, "203" in r.headers.get("Pardot-Warning", "")
        r = headers.get(client, {"nextPageToken": token, "fields": fields})
