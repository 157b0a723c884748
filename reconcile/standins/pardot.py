"""A Pardot / Account Engagement API v5 stand-in: the prospect query `reconcile pull` uses, seeded from a snapshot's
pardot/prospects file, with v5's auth headers, `nextPageToken` paging, the 100,000-records-per-token cap and its
error bodies.

    with PardotStandin(prospects, business_unit_id="0Uv…", token_ok=lambda t: …) as pd:   # pd.url
        ...

Shapes (reference/source_schemas.md §2):
  GET /api/v5/objects/prospects/<id>?fields=…   → the prospect {field: value}; unknown id → 404 (code 3)
  GET /api/v5/objects/prospects?fields=…&limit=…&orderBy=…&<filters>   or   <nextPageUrl> (= ?nextPageToken=…[&fields=…])
      → {"values": [{field: value}], "nextPageToken": str|null, "nextPageUrl": str|null}
      filters: id/createdAt/updatedAt comparisons (idGreaterThan, updatedAtAfterOrEqualTo, …) and deleted
      https://developer.salesforce.com/docs/marketing/pardot/guide/prospect-v5.html (S31)
      https://developer.salesforce.com/docs/marketing/pardot/guide/version5overview.html (S32): `fields` required,
      `limit` 1..1000 (default 200), with a token only `fields` may be sent, 100,000 records per token sequence
      (then `Pardot-Warning: 203` and no next token: continue with an id filter, ordered by id). A token can be
      used again (a retry gets the same page) until it expires, 4 hours after it was issued.
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
import time
from datetime import datetime
from pathlib import Path

import tornado.web

from .http import Served, ServiceHandler, not_found_handler

CAP = 100_000
# The prospect fields of https://developer.salesforce.com/docs/marketing/pardot/guide/prospect-v5.html that
# reference/source_schemas.md §2.2 lists; a field the seed file lacks is answered null (false for a boolean).
FIELDS = (
    "id",
    "email",
    "firstName",
    "lastName",
    "company",
    "jobTitle",
    "industry",
    "country",
    "website",
    "salesforceId",
    "salesforceLeadId",
    "salesforceContactId",
    "salesforceAccountId",
    "salesforceOwnerId",
    "salesforceLastSync",
    "salesforceUrl",
    "isEmailHardBounced",
    "emailBouncedAt",
    "emailBouncedReason",
    "isDoNotEmail",
    "optedOut",
    "score",
    "grade",
    "createdAt",
    "updatedAt",
    "lastActivityAt",
    "isDeleted",
    "campaignId",
    "salesforceCampaignId",
)
BOOLEAN = {"isEmailHardBounced", "optedOut", "isDoNotEmail", "isDeleted"}
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
ERR_PROSPECT_ID = (3, "Invalid prospect ID")
# a nextPageToken is valid for 4 hours after it is issued (version5overview.html, "Pagination";
# reference/source_schemas.md §2.1)
TOKEN_TTL_S = 4 * 3600
# The query's sort and filter parameters (prospect-v5.html, "Query"): orderBy one of these, ASC (default) or DESC;
# <field>After / AfterOrEqualTo / Before / BeforeOrEqualTo for the dates, id<GreaterThan|LessThan>[OrEqualTo] for id,
# deleted = true / false (default) / all. Any other parameter is refused (⚠ inferred: a filter silently ignored
# would hand a client the wrong records).
SORTABLE = ("id", "createdAt", "updatedAt")
PAGING = {"fields", "limit", "orderBy", "deleted", "nextPageToken"}
COMPARE = {
    "After": lambda a, b: a > b,
    "AfterOrEqualTo": lambda a, b: a >= b,
    "Before": lambda a, b: a < b,
    "BeforeOrEqualTo": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}
FILTERS = {
    **{f"{f}{op}": (f, COMPARE[op]) for f in ("createdAt", "updatedAt") for op in list(COMPARE)[:4]},
    **{f"id{op}": ("id", COMPARE[op]) for op in list(COMPARE)[4:]},
}


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


def _comparable(field: str, value):
    """An id as an integer, a createdAt/updatedAt as an aware datetime; None when the value is not one."""
    if value is None or str(value).strip() == "":
        return None
    if field == "id":
        return value if isinstance(value, int) else int(value) if str(value).strip().isdigit() else None
    try:
        at = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else None


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
    def __init__(self, prospects: list[dict], business_unit_id: str, token_ok, cap: int, clock=time.monotonic):
        self.clock = clock
        self.prospects = sorted(prospects, key=lambda p: (not isinstance(p.get("id"), int), p.get("id")))
        self.business_unit_id, self.token_ok, self.cap = business_unit_id, token_ok, cap
        self.lock = threading.Lock()
        self.tokens: dict[str, dict] = {}  # nextPageToken → the page it names (reusable until it expires)
        self.requests = 0


class Prospects(ServiceHandler):
    def initialize(self, state: PardotState):
        self.state = state

    def error_body(self, status: int, message: str) -> dict:
        # a path no object serves (404) or a method the query does not take (405), in v5's {"code", "message"}
        # (error-codes.html); ⚠ the code numbers are inferred (the HTTP status), clients must not depend on them
        return {"code": status, "message": message}

    def error(self, status: int, err: tuple[int, str]):
        self.set_status(status)
        self.finish({"code": err[0], "message": err[1]})

    def authorized(self) -> bool:
        """v5's two auth headers; False when the error has been answered."""
        st = self.state
        with st.lock:
            st.requests += 1
        token = self.request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not st.token_ok(token):
            self.error(401, ERR_TOKEN)
            return False
        if self.request.headers.get("Pardot-Business-Unit-Id", "") != st.business_unit_id:
            self.error(401, ERR_BUSINESS_UNIT)
            return False
        return True

    def requested_fields(self, required: bool) -> list[str] | None:
        """The `fields` parameter (required on a read and on a query's first page), checked against FIELDS; None
        when the error has been answered."""
        fields = [f for f in self.get_query_argument("fields", "").split(",") if f]
        if not fields and required:
            self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: fields. The fields parameter is required."))
            return None
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: fields. Unknown field: {unknown[0]}"))
            return None
        return fields

    def get(self):
        st = self.state
        if not self.authorized():
            return
        page_token = self.get_query_argument("nextPageToken", "")
        fields = self.requested_fields(required=not page_token)
        if fields is None:
            return
        if page_token:
            if set(self.request.query_arguments) - {"nextPageToken", "fields"}:
                return self.error(400, (ERR_PARAMETER[0], "Only the fields parameter may be given with nextPageToken."))
            with st.lock:
                page = st.tokens.get(page_token)
                if page is not None and st.clock() - page["issued"] >= TOKEN_TTL_S:
                    del st.tokens[page_token]  # expired (4 hours after it was issued)
                    page = None
            if page is None:
                return self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: nextPageToken."))
            # the token names one page of the query and stays valid until it expires: a client that lost the answer
            # (a network error) asks again with the same token and gets the same page and the same next token
            # (version5overview.html, "Pagination": tokens expire after 4 hours). The token carries the query:
            # nextPageUrl is followed as given, with the first request's fields; fields sent with it replace them
            return self._page(page, fields or page["seq"]["fields"])
        seq = self._new_sequence(fields)
        if seq is None:
            return
        self._page({"seq": seq, "pos": 0, "served": 0, "issued": st.clock(), "next": None}, fields)

    def _refuse(self, name: str, why: str) -> None:
        self.error(400, (ERR_PARAMETER[0], f"{ERR_PARAMETER[1]}: {name}. {why}"))

    def _new_sequence(self, fields: list[str]) -> dict | None:
        args = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        unknown = sorted(set(args) - PAGING - set(FILTERS))
        if unknown:
            return self._refuse(unknown[0], "Not a parameter of the prospect query.")
        try:
            limit = int(args.get("limit", "200"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return self._refuse("limit", "It must be 1 to 1000.")
        field, _, direction = args.get("orderBy", "id").strip().partition(" ")
        field = next((f for f in SORTABLE if f.lower() == field.lower()), None)
        if field is None or direction.strip().upper() not in ("", "ASC", "DESC"):
            return self._refuse("orderBy", f"Sort by {', '.join(SORTABLE)}, optionally followed by ASC or DESC.")
        deleted = args.get("deleted", "false").lower()
        if deleted not in ("true", "false", "all"):
            return self._refuse("deleted", "It must be true, false or all.")
        rows = [p for p in self.state.prospects if deleted == "all" or bool(p.get("isDeleted")) == (deleted == "true")]
        for name, (target, test) in FILTERS.items():
            if name not in args:
                continue
            bound = _comparable(target, args[name])
            if bound is None:
                what = "an integer" if target == "id" else "a date-time with its offset (YYYY-MM-DDTHH:MM:SS±HH:MM)"
                return self._refuse(name, f"It must be {what}.")
            rows = [p for p in rows if (v := _comparable(target, p.get(target))) is not None and test(v, bound)]
        keyed = [(_comparable(field, p.get(field)), p) for p in rows]
        present = sorted((k for k in keyed if k[0] is not None), key=lambda k: (k[0], _comparable("id", k[1]["id"])))
        if direction.strip().upper() == "DESC":
            present.reverse()
        rows = [p for _, p in present] + [p for k, p in keyed if k is None]  # no value to sort by: last
        return {"rows": rows, "pos": 0, "limit": limit, "served": 0, "fields": fields}

    def _page(self, page: dict, fields: list[str]) -> None:
        """Answer `page` ({seq: the query, pos/served: where it starts, issued, next: its next token once made})."""
        st, seq = self.state, page["seq"]
        take = min(seq["limit"], st.cap - page["served"])
        rows = seq["rows"][page["pos"] : page["pos"] + take]
        pos, served = page["pos"] + len(rows), page["served"] + len(rows)
        next_token = None
        if pos < len(seq["rows"]):
            if served >= st.cap:  # the cap: no further token, a warning header says why
                self.set_header(
                    "Pardot-Warning",
                    "203;Maximum records per query reached. Use an id filter "
                    "(idGreaterThan) ordered by id to continue.",
                )
            else:
                with st.lock:
                    if page["next"] is None:  # one next token per page, however often the page is asked for
                        now = st.clock()
                        for old in [t for t, p in st.tokens.items() if now - p["issued"] >= TOKEN_TTL_S]:
                            del st.tokens[old]  # expired: forgotten
                        page["next"] = secrets.token_urlsafe(24)
                        st.tokens[page["next"]] = {
                            "seq": seq,
                            "pos": pos,
                            "served": served,
                            "issued": st.clock(),
                            "next": None,
                        }
                    next_token = page["next"]
        url = f"{self.request.protocol}://{self.request.host}{self.request.path}"
        self.finish(
            {
                "values": [_project(p, fields) for p in rows],
                "nextPageToken": next_token,
                "nextPageUrl": f"{url}?nextPageToken={next_token}" if next_token else None,
            }
        )


def _project(prospect: dict, fields: list[str]) -> dict:
    return {f: prospect.get(f, False if f in BOOLEAN else None) for f in fields}


class Prospect(Prospects):
    # "Read": GET /api/v5/objects/prospects/<id>?fields=… → the prospect with the fields asked for (`fields` is
    # required, as on a query); an id no prospect has → 404 {"code": 3, "message": "Invalid prospect ID"}
    #   https://developer.salesforce.com/docs/marketing/pardot/guide/prospect-v5.html ("Read")
    #   https://developer.salesforce.com/docs/marketing/pardot/guide/error-codes.html ("Invalid prospect ID";
    #   ⚠ its number 3 is the position in that page's list)
    # a prospect in the recycle bin is read with `Pardot-Warning: 201;Record In Recycle Bin` (version5overview.html)
    def get(self, prospect_id):
        if not self.authorized():
            return
        fields = self.requested_fields(required=True)
        if fields is None:
            return
        found = next((p for p in self.state.prospects if str(p.get("id")) == prospect_id), None)
        if found is None:
            return self.error(404, ERR_PROSPECT_ID)
        if found.get("isDeleted"):
            self.set_header("Pardot-Warning", "201;Record In Recycle Bin")
        self.finish(_project(found, fields))


class PardotStandin(Served):
    def __init__(
        self,
        prospects: list[dict] | None = None,
        business_unit_id: str = "0UvDm000000GmkeKAC",
        token_ok=None,
        port: int = 0,
        cap: int = CAP,
        clock=time.monotonic,
    ):
        self.business_unit_id = business_unit_id
        self.state = PardotState(list(prospects or []), business_unit_id, token_ok or (lambda t: False), cap, clock)
        app = tornado.web.Application(
            [
                (r"/api/v5/objects/prospects/?", Prospects, {"state": self.state}),
                (r"/api/v5/objects/prospects/([0-9]+)/?", Prospect, {"state": self.state}),
            ],
            default_handler_class=not_found_handler(Prospects),
            default_handler_args={"state": self.state},
        )
        super().__init__(app, port)

    def env(self) -> dict[str, str]:
        return {"PARDOT_BASE_URL": self.url, "PARDOT_BUSINESS_UNIT_ID": self.business_unit_id}
