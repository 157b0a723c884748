"""A Smartlead-shaped stand-in: the API v1 endpoints `reconcile pull` uses and the JSON campaign leads, with Smartlead's
key check and rate limit, seeded from a snapshot's smartlead/campaign-<id>.csv files (served back byte for byte as the leads export).

    with SmartleadStandin(campaigns={9181: csv_bytes}) as sl:     # sl.url (…/api/v1), sl.api_key
        ...                                                       # sl.log: [(arrival time, path, status)]

Shapes (reference/source_schemas.md §1):
  GET /api/v1/campaigns?api_key=…                     a bare JSON list of campaign objects
      https://api.smartlead.ai/api-reference/campaigns/list (S1, fields S13/S14)
  GET /api/v1/campaigns/{id}?api_key=…                one campaign object, as in the list ("Get Campaign By Id", S1:
      https://help.smartlead.ai/API-Documentation-a0d223bdd3154a77b3735497aad9419f); an unknown id → 404
  GET /api/v1/campaigns/{id}/leads-export?api_key=…   text/csv, every value double-quoted (S10, S11, S16)
  GET /api/v1/campaigns/{id}/leads?api_key=…&offset=&limit=   the same leads as JSON, paged (S3)
Auth is the `api_key` query parameter on every request, no header (S1). Rate limit: 10 requests per 2 seconds per
key (S1, https://helpcenter.smartlead.ai/en/articles/125-full-api-documentation); over it → HTTP 429 with the body
and headers of https://api.smartlead.ai/guides/rate-limits: {"error": {"code": "RATE_LIMIT_EXCEEDED", "message":
…, "retry_after": s}}, Retry-After (only on a 429), X-RateLimit-Limit / -Remaining / -Reset (Unix time the window
ends) on every admitted answer. The bodies of 401 / 403 / 404 are not documented: those below are ⚠ inferred, and
clients must not depend on them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from pathlib import Path

import tornado.web

from ..demo_data.vocab import REPLY_CATEGORIES
from .http import Served, ServiceHandler, not_found_handler

WINDOW_S, WINDOW_REQUESTS = 2.0, 10
TOO_MANY = "Too many requests. Please retry after {s} seconds."
INVALID_KEY = "Invalid API Key"
NO_API_PLAN = "API access is not available on your current plan. Please upgrade your plan."


class SmartleadState:
    def __init__(self, campaigns: dict[int, bytes], api_key: str, limit: int, window: float, api_plan: bool):
        self.campaigns, self.api_key, self.limit, self.window = campaigns, api_key, limit, window
        self.api_plan = api_plan
        self.lock = threading.Lock()
        self.recent: dict[str, deque] = {}  # key → arrival times of the requests it was allowed
        self.log: list[tuple[float, str, int]] = []

    def admit(self, key: str) -> tuple[float, int, float]:
        """(seconds until the window has room, 0 when the request may go ahead and counts; requests left in the
        window; seconds until its oldest request leaves it)."""
        now = time.monotonic()
        with self.lock:
            q = self.recent.setdefault(key, deque())
            while q and now - q[0] >= self.window:
                q.popleft()
            if len(q) >= self.limit:
                wait = self.window - (now - q[0])
                return wait, 0, wait
            q.append(now)
            return 0.0, self.limit - len(q), self.window - (now - q[0])


class Api(ServiceHandler):
    def initialize(self, state: SmartleadState):
        self.state = state

    def error_body(self, status: int, message: str) -> dict:
        # a path no endpoint serves (404) or a method it does not take (405): ⚠ inferred, the {"message"} body
        # of the stand-in's other undocumented errors
        return {"message": message}

    def write_error(self, status_code: int, **kwargs) -> None:
        with self.state.lock:  # the log holds every answer, these too
            self.state.log.append((getattr(self, "_arrived", None) or time.monotonic(), self.request.path, status_code))
        self._arrived = None
        super().write_error(status_code, **kwargs)

    def prepare(self):
        st, key = self.state, self.get_query_argument("api_key", "")
        arrived = time.monotonic()
        if not key or not secrets.compare_digest(key, st.api_key):
            return self._finish_logged(arrived, 401, {"message": INVALID_KEY})
        if not st.api_plan:  # the Basic plan has no API (S12: 403)
            return self._finish_logged(arrived, 403, {"message": NO_API_PLAN})
        wait, left, resets = st.admit(key)
        self.set_header("X-RateLimit-Limit", str(st.limit))
        self.set_header("X-RateLimit-Remaining", str(left))
        self.set_header("X-RateLimit-Reset", str(math.ceil(time.time() + resets)))
        if wait:
            seconds = max(1, math.ceil(wait))
            self.set_header("Retry-After", str(seconds))
            return self._finish_logged(
                arrived,
                429,
                {
                    "error": {
                        "code": "RATE_LIMIT_EXCEEDED",
                        "retry_after": seconds,
                        "message": TOO_MANY.format(s=seconds),
                    }
                },
            )
        self._arrived = arrived

    def _finish_logged(self, arrived: float, status: int, body):
        with self.state.lock:
            self.state.log.append((arrived, self.request.path, status))
        self.set_status(status)
        self.finish(body)

    def finish(self, chunk=None):
        if getattr(self, "_arrived", None) is not None:  # logged before the answer leaves: a client that got it
            with self.state.lock:  # finds it in the log
                self.state.log.append((self._arrived, self.request.path, self.get_status()))
            self._arrived = None
        return super().finish(chunk)


class Campaigns(Api):
    def get(self):
        # GET /campaigns answers a bare list (no envelope), ids as integers; its Content-Type names the charset as
        # the other JSON answers do
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.write(json.dumps([_campaign(cid) for cid in sorted(self.state.campaigns)]))


class Campaign(Api):
    # "Get Campaign By Id": GET /campaigns/{campaign_id} → the campaign object (the fields of GET /campaigns' items)
    #   https://help.smartlead.ai/API-Documentation-a0d223bdd3154a77b3735497aad9419f (S1),
    #   https://api.smartlead.ai/api-reference/campaigns/get-by-id
    # an id the workspace has no campaign for → 404 {"message": …} (⚠ inferred body, as the stand-in's other 404s)
    def get(self, campaign_id):
        if int(campaign_id) not in self.state.campaigns:
            self.set_status(404)
            return self.finish({"message": "Campaign not found"})
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(_campaign(int(campaign_id))))


class LeadsExport(Api):
    def get(self, campaign_id):
        body = self.state.campaigns.get(int(campaign_id))
        if body is None:
            self.set_status(404)
            return self.finish({"message": "Campaign not found"})
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="campaign-{campaign_id}-leads.csv"')
        self.finish(body)


class Leads(Api):
    # GET /campaigns/{id}/leads?offset=&limit= (1..100, default 100): the campaign's leads as JSON, envelope
    # {total_leads (a string), offset, limit, data} — https://api.smartlead.ai/api-reference/campaigns/get-leads (S3);
    # the rows are the leads export's, typed as §1.3 shows them. The 400 body for a bad offset/limit is ⚠ inferred.
    def get(self, campaign_id):
        body = self.state.campaigns.get(int(campaign_id))
        if body is None:
            self.set_status(404)
            return self.finish({"message": "Campaign not found"})
        try:
            offset, limit = int(self.get_query_argument("offset", "0")), int(self.get_query_argument("limit", "100"))
        except ValueError:
            offset, limit = -1, 0
        if offset < 0 or not 1 <= limit <= 100:
            self.set_status(400)
            return self.finish({"message": "offset must be 0 or more and limit 1 to 100"})
        try:
            keep = _lead_filter(self)
        except ValueError as e:
            self.set_status(400)
            return self.finish({"message": str(e)})
        rows = [r for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig"))) if keep(r)]
        self.finish(
            {
                "total_leads": str(len(rows)),
                "offset": offset,
                "limit": limit,
                "data": [_lead_item(r) for r in rows[offset : offset + limit]],
            }
        )


LEAD_STATUSES = ("STARTED", "INPROGRESS", "COMPLETED", "PAUSED", "STOPPED")
# emailStatus values the API takes; of those, SERVED_EMAIL_STATUSES are the ones a leads export can answer (reply_count,
# is_unsubscribed): the others need open/click/bounce statistics it does not hold, and are refused rather than ignored
# (a filter ignored returns every lead with a 200)
EMAIL_STATUSES = ("is_opened", "is_clicked", "is_replied", "is_bounced", "is_unsubscribed", "is_spam", "is_accepted",
                  "not_replied", "is_sender_bounced")  # fmt: skip
SERVED_EMAIL_STATUSES = ("is_replied", "not_replied", "is_unsubscribed")


def _lead_filter(handler):
    """The row filter of GET /campaigns/{id}/leads: status, lead_category_id, emailStatus, created_at_gt
    (https://api.smartlead.ai/api-reference/campaigns/get-leads; source_schemas.md §1.2 [S3]). ValueError: a value
    the API does not take, or a filter this stand-in cannot answer from a leads export (last_sent_time_gt,
    event_time_gt, an emailStatus of opens, clicks or bounces)."""
    arg = handler.get_query_argument
    status, category, email_status, created = (
        arg("status", None),
        arg("lead_category_id", None),
        arg("emailStatus", None),
        arg("created_at_gt", None),
    )
    for name in ("last_sent_time_gt", "event_time_gt"):
        if arg(name, None) is not None:
            raise ValueError(f"{name} is not served by this stand-in: a leads export holds no send or event times")
    if status is not None and status not in LEAD_STATUSES:
        raise ValueError(f"status must be one of {', '.join(LEAD_STATUSES)}")
    if category is not None and not category.isdigit():
        raise ValueError("lead_category_id must be a whole number")
    if email_status is not None and email_status not in EMAIL_STATUSES:
        raise ValueError(f"emailStatus must be one of {', '.join(EMAIL_STATUSES)}")
    if email_status is not None and email_status not in SERVED_EMAIL_STATUSES:
        raise ValueError(
            f"emailStatus {email_status} is not served by this stand-in: a leads export holds no such data"
        )
    since = _instant(created) if created is not None else None
    if created is not None and since is None:
        raise ValueError("created_at_gt must be an ISO 8601 time")

    def keep(row: dict) -> bool:
        item = _lead_item(row)
        replied = (row.get("reply_count") or "0").strip() not in ("", "0")
        return (
            (status is None or (row.get("status") or "").upper() == status)
            and (category is None or item["lead_category_id"] == int(category))
            and (email_status != "is_replied" or replied)
            and (email_status != "not_replied" or not replied)
            and (email_status != "is_unsubscribed" or item["lead"]["is_unsubscribed"])
            and (since is None or ((_instant(row.get("created_at") or "") or since) > since))
        )

    return keep


def _instant(text: str):
    """An ISO 8601 time (clock.parse_utc), a naive one read as UTC; None when it is not one."""
    from datetime import timezone

    from ..clock import parse_utc

    try:
        t = parse_utc(text.strip())
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _lead_item(row: dict) -> dict:
    """One leads-export row in the shape of GET /campaigns/{id}/leads (reference/source_schemas.md §1.3)."""

    def number(name):
        text = (row.get(name) or "").strip()
        return int(text) if text.isdigit() else None

    def blob(name):
        try:
            return json.loads(row.get(name) or "null")
        except ValueError:
            return row.get(name)

    text = {k: (row.get(k) or None) for k in LEAD_TEXT}
    return {
        "campaign_lead_map_id": number("campaign_lead_map_id"),
        "lead_category_id": CATEGORY_IDS.get((row.get("category") or "").strip().lower()),
        "status": row.get("status"),
        "created_at": row.get("created_at") or None,
        "lead": {
            "id": number("id"),
            **text,
            "custom_fields": blob("custom_fields") or {},
            "is_unsubscribed": (row.get("is_unsubscribed") or "").strip().lower() == "true",
            "unsubscribed_client_id_map": blob("unsubscribed_client_id_map"),
        },
    }


LEAD_TEXT = (
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "company_name",
    "website",
    "location",
    "linkedin_profile",
    "company_url",
)
# Smartlead's standard categories, ids 1..9 (reference/source_schemas.md §1.7); a custom category's id is per
# workspace: null
CATEGORY_IDS = {name.lower(): n for n, name in enumerate(REPLY_CATEGORIES, 1)}


def _campaign(cid: int) -> dict:
    return {
        "id": cid,
        "user_id": 1001,
        "created_at": "2026-01-05T09:00:00.000Z",
        "updated_at": "2026-11-20T09:00:00.000Z",
        "status": "ACTIVE",
        "name": f"Campaign {cid}",
        "track_settings": ["DONT_EMAIL_OPEN", "DONT_LINK_CLICK"],
        "scheduler_cron_value": None,
        "min_time_btwn_emails": 10,
        "max_leads_per_day": 100,
        "stop_lead_settings": "REPLY_TO_AN_EMAIL",
        "unsubscribe_text": "",
        "client_id": None,
        "enable_ai_esp_matching": False,
        "send_as_plain_text": False,
        "follow_up_percentage": 100,
        "parent_campaign_id": None,
    }


def _log_without_query(handler) -> None:
    """Tornado's access log line without the query string: the api_key is in it."""
    import logging

    logging.getLogger("tornado.access").info(
        "%d %s %s", handler.get_status(), handler.request.method, handler.request.path
    )


CAMPAIGN_FILE = re.compile(r"campaign[-_ ]?(\d+)", re.IGNORECASE)


def campaigns_from_snapshot(snapshot_dir: str | Path) -> dict[int, bytes]:
    """{campaign id: leads-export CSV bytes} from SNAPSHOT/smartlead/campaign-<id>*.csv (the contract's names)."""
    found: dict[int, bytes] = {}
    for path in sorted((Path(snapshot_dir) / "smartlead").glob("*.csv")):
        m = CAMPAIGN_FILE.match(path.stem)
        if m:
            found[int(m.group(1))] = path.read_bytes()
    return found


class SmartleadStandin(Served):
    def __init__(
        self,
        campaigns: dict[int, bytes] | None = None,
        api_key: str | None = None,
        port: int = 0,
        limit: int = WINDOW_REQUESTS,
        window: float = WINDOW_S,
        api_plan: bool = True,
    ):
        self.api_key = api_key or secrets.token_hex(16)
        self.state = SmartleadState(dict(campaigns or {}), self.api_key, limit, window, api_plan)
        app = tornado.web.Application(
            [
                (r"/api/v1/campaigns/?", Campaigns, {"state": self.state}),
                (r"/api/v1/campaigns/(\d+)/?", Campaign, {"state": self.state}),
                (r"/api/v1/campaigns/(\d+)/leads-export/?", LeadsExport, {"state": self.state}),
                (r"/api/v1/campaigns/(\d+)/leads/?", Leads, {"state": self.state}),
            ],
            log_function=_log_without_query,
            default_handler_class=not_found_handler(Api),
            default_handler_args={"state": self.state},
        )
        super().__init__(app, port)
        self.base_url = f"{self.url}/api/v1"

    @property
    def log(self) -> list[tuple[float, str, int]]:
        with self.state.lock:
            return sorted(self.state.log)

    def env(self) -> dict[str, str]:
        return {"SMARTLEAD_BASE_URL": self.base_url, "SMARTLEAD_API_KEY": self.api_key}
