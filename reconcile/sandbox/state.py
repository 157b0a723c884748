"""The in-process org: records, users, field history, request log, API counter, faults, persistence."""

import datetime as dt
import threading
import time
from pathlib import Path

from . import ids, persist
from .faults import Faults
from .schema import SCHEMA, compute_formulas
from .security import UserSpec, build_users, give_password, new_session_id
from .setup_rows import setup_rows


def now_sf() -> str:
    """Current UTC time in Salesforce's wire format: 2025-03-28T09:41:02.000+0000."""
    stamp = dt.datetime.now(dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


class Org:
    """All state of one sandbox org. Every public method is thread-safe (one re-entrant lock)."""

    def __init__(
        self,
        state_path=None,
        daily_limit: int = 15000,
        users: dict | None = None,
        faults: dict | None = None,
        token_ttl: float = 7200,
    ):
        self.lock = threading.RLock()
        self.token_ttl = token_ttl  # seconds an OAuth access token stays valid (Salesforce default: 2 h)
        self.login_url = ""  # set by the server once it listens
        self.app: dict | None = None  # the registered External Client App (oauth.new_app)
        self.tokens: dict = {}  # access token -> {"user": key, "expires": epoch seconds}
        self.state_path = Path(state_path) if state_path else None
        self.daily_limit = daily_limit
        self.faults = Faults()
        self.faults.update(**(faults or {}))
        self.request_log: list = []
        self.cursors: dict = {}
        self._contact_emails = None
        saved = persist.load(self.state_path) if self.state_path else None
        if saved:
            self._restore(saved)
        else:
            self._fresh(users)
            self.save()

    # ---- construction / persistence -----------------------------------------------------------------

    def _fresh(self, users):
        self.id_seq = 0
        self.api_used = 0
        self.field_history: list = []
        self.jobs: dict = {}
        self.data = {name: {} for name in SCHEMA}
        self.users = build_users(users, self.next_id)
        for sobject, rows in setup_rows(self.users, self.next_id).items():
            self.data[sobject] = {row["Id"]: row for row in rows}

    def _restore(self, saved: dict):
        self.id_seq = saved["id_seq"]
        self.api_used = saved["api_used"]
        self.field_history = saved["field_history"]
        self.jobs = saved.get("jobs", {})
        self.data = {name: saved["records"].get(name, {}) for name in SCHEMA}
        self.users = [UserSpec.from_dict(u) for u in saved["users"]]
        for user in self.users:  # a state saved before users had passwords
            give_password(user)
        self.app = saved.get("app")
        self.tokens = saved.get("tokens", {})
        self.faults.formula_values = saved.get("formula_values", {})  # part of the org's setup, unlike other faults

    def save(self) -> None:
        """Persist the whole org (no-op for an in-memory org)."""
        if not self.state_path:
            return
        with self.lock:
            persist.save(
                self.state_path,
                {
                    "id_seq": self.id_seq,
                    "api_used": self.api_used,
                    "records": self.data,
                    "users": [u.to_dict() for u in self.users],
                    "field_history": self.field_history,
                    "app": self.app,
                    "tokens": self.tokens,
                    "formula_values": self.faults.formula_values,
                    "jobs": {k: v for k, v in self.jobs.items() if v.get("kind") == "ingest"},
                },
            )

    def next_id(self, sobject: str) -> str:
        with self.lock:
            self.id_seq += 1
            return ids.make_id(SCHEMA[sobject].prefix, self.id_seq)

    # ---- users and sessions ---------------------------------------------------------------------------

    def user(self, key: str) -> UserSpec:
        found = next((u for u in self.users if u.key == key), None)
        if found is None:
            raise KeyError(f"Sandbox user '{key}' does not exist; users: {[u.key for u in self.users]}.")
        return found

    def user_for_session(self, session_id: str) -> UserSpec | None:
        """The user of a session id or of an unexpired OAuth access token."""
        issued = self.tokens.get(session_id) if session_id else None
        if issued and issued["expires"] > time.time():
            return self.user(issued["user"])
        return next((u for u in self.users if session_id and u.session_id == session_id), None)

    def issue_token(self, key: str) -> str:
        """A new OAuth access token for user `key`, valid for `token_ttl` seconds."""
        with self.lock:
            now = time.time()
            self.tokens = {t: v for t, v in self.tokens.items() if v["expires"] > now}
            access_token = new_session_id()
            self.tokens[access_token] = {"user": key, "expires": now + self.token_ttl}
            self.save()
            return access_token

    def expire_session(self, key: str = "integration") -> None:
        """Invalidate the user's session id and every OAuth access token issued to it."""
        with self.lock:
            self.user(key).session_id = "expired!" + new_session_id()
            self.tokens = {t: v for t, v in self.tokens.items() if v["user"] != key}
            self.save()

    def renew_session(self, key: str = "integration") -> str:
        """Issue a new session id for user `key` (e.g. after `expire_after_calls`) and return it."""
        with self.lock:
            self.user(key).session_id = new_session_id()
            self.save()
            return self.user(key).session_id

    # ---- faults and counters --------------------------------------------------------------------------

    def set_faults(self, **changes) -> None:
        with self.lock:
            self.faults.update(**changes)

    def reset_counters(self) -> None:
        with self.lock:
            self.api_used = 0
            self.save()

    # ---- records ----------------------------------------------------------------------------------------

    def insert(self, sobject: str, records: list) -> None:
        """Seed records (API field names). Ids are kept (15 → 18 chars) or generated with the key prefix."""
        obj = _known(sobject)
        with self.lock:
            for given in records:
                row = self._new_row(obj, given)
                self.data[sobject][row["Id"]] = row
            if sobject == "Contact":
                self._contact_emails = None
            self.save()

    def _new_row(self, obj, given: dict) -> dict:
        stamp = now_sf()
        row = {}
        for name, fdef in obj.fields.items():
            if not (fdef.calculated or fdef.derived):
                row[name] = fdef.default
        row.update({"CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp})
        admin = self.user("admin").user_id
        for name in ("CreatedById", "LastModifiedById", "OwnerId"):
            if name in obj.fields:
                row[name] = admin
        for name, value in given.items():
            fdef = obj.field(name)
            if fdef is None:
                raise ValueError(f"Cannot insert {obj.name}: field '{name}' does not exist on '{obj.name}'.")
            if fdef.calculated or fdef.derived:
                raise ValueError(f"Cannot insert {obj.name}: '{fdef.name}' is computed from other fields.")
            row[fdef.name] = value
        row["Id"] = ids.to18(row["Id"]) if row.get("Id") else self.next_id(obj.name)
        if not ids.is_valid(row["Id"], obj.prefix):
            raise ValueError(
                f"Cannot insert {obj.name}: Id '{row['Id']}' is not a {obj.name} id "
                f"(18 characters starting '{obj.prefix}')."
            )
        return row

    def records(self, sobject: str) -> dict:
        _known(sobject)
        with self.lock:
            return {rid: dict(row) for rid, row in self.data[sobject].items()}

    def contact_emails(self) -> set:
        with self.lock:
            if self._contact_emails is None:
                self._contact_emails = {
                    (c.get("Email") or "").strip().lower()
                    for c in self.data["Contact"].values()
                    if c.get("Email") and not c.get("IsDeleted")
                }
            return self._contact_emails

    def formulas(self, sobject: str, row: dict) -> dict:
        """The record's formula values as the org computes them (a `formula_values` fault wins)."""
        values = compute_formulas(sobject, row, self.contact_emails())
        deviating = self.faults.formula_values.get(row.get("Id"))
        return {**values, **deviating} if deviating else values

    def full_record(self, sobject: str, row: dict) -> dict:
        """Stored fields plus formulas, in schema order."""
        formulas = self.formulas(sobject, row)
        return {name: formulas[name] if name in formulas else row.get(name) for name in SCHEMA[sobject].fields}

    def get(self, sobject: str, record_id: str) -> dict:
        """The record as the API would return it (admin view), formulas computed."""
        _known(sobject)
        with self.lock:
            row = self.data[sobject].get(ids.to18(record_id))
            if row is None:
                raise KeyError(f"{sobject} '{record_id}' does not exist in the sandbox org.")
            url = f"/services/data/v59.0/sobjects/{sobject}/{row['Id']}"
            return {"attributes": {"type": sobject, "url": url}, **self.full_record(sobject, row)}

    def contact_changed(self) -> None:
        self._contact_emails = None

    def log_request(self, method: str, path: str, user: str | None, status: int) -> None:
        with self.lock:
            self.request_log.append({"method": method, "path": path, "user": user, "status": status})


def _known(sobject: str):
    if sobject not in SCHEMA:
        raise ValueError(f"Unknown sObject '{sobject}'; the sandbox knows: {', '.join(SCHEMA)}.")
    return SCHEMA[sobject]
