"""A Pardot / Account Engagement API v5 stand-in: the prospect query `reconcile pull` uses, seeded from a snapshot's
pardot/prospects file, with v5's auth headers, `nextPageToken` paging, the 100,000-records-per-token cap and its
error bodies.

    with PardotStandin(prospects, business_unit_id="0Uv…", token_ok=lambda t: …) as pd:   # pd.url
        ...

Shapes (reference/source_schemas.md §2):
  GET /api/v5/objects/prospects?fields=…&limit=…&orderBy=…&idGreaterThan=…   or   ?nextPageToken=…&fields=…
      → {"values": [{field: value}], "nextPageToken": str|null, "nextPageUrl": str|null}
      https://developer.salesforce.com/docs/marketing/pardot/guide/prospect-v5.html (S31)
      https://developer.salesforce.com/docs/marketing/pardot/guide/version5overview.html (S32): `fields` required,
      `limit` 1..1000 (default 200), with a token only `fields` may be sent, 100,000 records per token sequence
      (then `Pardot-Warning: 203` and no next token: continue with an id filter, ordered by id).
  Auth: `Authorization: Bearer <Salesforce OAuth token>` and `Pardot-Business-Unit-Id: 0Uv…` (18 characters),
      https://developer.salesforce.com/docs/marketing/pardot/guide/authentication.html
  Errors in v5 are {"code": N, "message": "…"}: https://developer.salesforce.com/docs/marketing/pardot/guide/error-codes.html
      (the codes below are ⚠ as seen in public client code and forum posts, not confirmed on that page).
`token_ok(token)` decides whether a bearer token is a live Salesforce session (the sandbox org's, in `sandbox serve`).
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
from pathlib import Path

import tornado.web

from .http import Served

CAP = 100_000
FIELDS = (
    "id",
    "email",
    "firstName",
    "lastName",
    "company",
    "salesforceId",
    "salesforceLeadId",
    "salesforceContactId",
    "isEmailHardBounced",
    "emailBouncedAt",
    "emailBouncedReason",
    "optedOut",
    "isDoNotEmail",
    "createdAt",
    "updatedAt",
)
BOOLEAN = {"isEmailHardBounced", "optedOut", "isDoNotEmail"}
# v3/v4 headers a prospects file may carry (contract.py aliases) → v5 names
ALIASES = {
    "crm_lead_fid": "salesforceLeadId",
    "crm_contact_fid": "salesforceContactId",
    "salesforce_fid": "salesforceId",
    "is_email_hard_bounced": "isEmailHardBounced",
    "email_hard_bounced": "isEmailHardBounced",
    "email_bounced_at": "emailBouncedAt",
    "updated_at": "updatedAt",
}
ERR_TOKEN = (184, "access_token is invalid, unknown, or malformed: Inactive token")
ERR_BUSINESS_UNIT = (181, "Invalid Business Unit ID. Check the Pardot-Business-Unit-Id header.")
ERR_PARAMETER = (66, "Invalid value specified for parameter")


def _v5_value(name: str, text: str):
    """A snapshot cell as v5 would send it: null for blank, booleans and the integer id typed, the rest as text."""
    if text is None or text.strip() == "":
        return False if name in BOOLEAN else None
    if name in BOOLEAN:
        low = text.strip().lower()
        return (
            True if low in ("true", "1", "yes", "y", "t") else False if low in ("false", "0", "no", "n", "f") else text
        )
    if name == "id":
        return int(text) if text.strip().isdigit() else text
    return text


def prospects_from_snapshot(snapshot_dir: str | Path) -> list[dict]:
    """The prospects of SNAPSHOT/pardot/*prospect*.csv as v5 records (v3/v4 headers mapped to v5 names)."""
    files = sorted(p for p in (Path(snapshot_dir) / "pardot").glob("*.csv") if "prospect" in p.name.lower())
    out = []
    for path in files:
        reader = csv.DictReader(io.StringIO(path.read_text("utf-8-sig")))
        for row in reader:
            rec = {}
            for k, v in row.items():
                name = ALIASES.get(k.strip().lower(), k.strip())
                name = next((f for f in FIELDS if f.lower() == name.lower()), name)
                rec[name] = _v5_value(name, v)
            out.append(rec)
    return out


class PardotState:
    def __init__(self, prospects: list[dict], business_unit_id: str, token_ok, cap: int):
        self.prospects = sorted(prospects, key=lambda p: (not isinstance(p.get("id"), int), p.get("id")))
        self.business_unit_id, self.token_ok, self.cap = business_unit_id, token_ok, cap
        self.lock = threading.Lock()
        self.tokens: dict[str, dict] = {}
        self.requests = 0


class Prospects(tornado.web.RequestHandler):
    def initialize(self, state: PardotState):
        self.state = state

    def error(self, status: int, err: tuple[int, str]):
        self.set_status(status)
        self.finish({"code": err[0], "message": err[1]})

    def get(self):
        st = self.state
        with st.lock:
            st.requests += 1
        token = self.request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not st.token_ok(token):
            return self.error(401, ERR_TOKEN)
        if self.request.headers.get("Pardot-Business-Unit-Id", "") != st.business_unit_id:
            return self.error(401, ERR_BUSINESS_UNIT)
        fields = [f for f in self.get_query_argument("fields", "").split(",") if f]
        if not fields:
            return self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: fields. The fields parameter is required."))
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            return self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: fields. Unknown field: {unknown[0]}"))
        page_token = self.get_query_argument("nextPageToken", "")
        if page_token:
            if set(self.request.query_arguments) - {"nextPageToken", "fields"}:
                return self.error(400, (ERR_PARAMETER[0], "Only the fields parameter may be given with nextPageToken."))
            with st.lock:
                seq = st.tokens.pop(page_token, None)
            if seq is None:
                return self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: nextPageToken."))
        else:
            seq = self._new_sequence()
            if seq is None:
                return
        self._page(seq, fields)

    def _new_sequence(self) -> dict | None:
        try:
            limit = int(self.get_query_argument("limit", "200"))
            after = self.get_query_argument("idGreaterThan", None)
            after = int(after) if after is not None else None
        except ValueError:
            self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: limit or idGreaterThan."))
            return None
        if not 1 <= limit <= 1000:
            self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: limit. It must be 1 to 1000."))
            return None
        order = self.get_query_argument("orderBy", "id ASC").strip().lower()
        if order not in ("id", "id asc"):
            self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: orderBy (this stand-in orders by id)."))
            return None
        rows = [p for p in self.state.prospects if after is None or (isinstance(p.get("id"), int) and p["id"] > after)]
        return {"rows": rows, "pos": 0, "limit": limit, "served": 0}

    def _page(self, seq: dict, fields: list[str]) -> None:
        st = self.state
        take = min(seq["limit"], st.cap - seq["served"])
        page = seq["rows"][seq["pos"] : seq["pos"] + take]
        seq["pos"] += len(page)
        seq["served"] += len(page)
        next_token = None
        if seq["pos"] < len(seq["rows"]):
            if seq["served"] >= st.cap:  # the cap: no further token, a warning header says why
                self.set_header(
                    "Pardot-Warning",
                    "203;Maximum records per query reached. Use an id filter "
                    "(idGreaterThan) ordered by id to continue.",
                )
            else:
                next_token = secrets.token_urlsafe(24)
                with st.lock:
                    st.tokens[next_token] = seq
        url = f"{self.request.protocol}://{self.request.host}{self.request.path}"
        self.finish(
            {
                "values": [{f: p.get(f) for f in fields} for p in page],
                "nextPageToken": next_token,
                "nextPageUrl": f"{url}?nextPageToken={next_token}" if next_token else None,
            }
        )


class PardotStandin(Served):
    def __init__(
        self,
        prospects: list[dict] | None = None,
        business_unit_id: str = "0UvDm000000GmkeKAC",
        token_ok=None,
        port: int = 0,
        cap: int = CAP,
    ):
        self.business_unit_id = business_unit_id
        self.state = PardotState(list(prospects or []), business_unit_id, token_ok or (lambda t: False), cap)
        app = tornado.web.Application([(r"/api/v5/objects/prospects/?", Prospects, {"state": self.state})])
        super().__init__(app, port)

    def env(self) -> dict[str, str]:
        return {"PARDOT_BASE_URL": self.url, "PARDOT_BUSINESS_UNIT_ID": self.business_unit_id}
