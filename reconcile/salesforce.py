"""The only importer of simple_salesforce: connection from environment variables and the few calls we make.

Credentials come from the environment only — never from plans, notebooks, reports or logs:
  SF_INSTANCE_URL + SF_SESSION_ID, or SF_USERNAME + SF_PASSWORD + SF_SECURITY_TOKEN (+ SF_DOMAIN),
  SF_CA_BUNDLE (the CA to trust, e.g. the local sandbox org's), SF_API_VERSION (default 59.0).
With --org NAME every variable is first looked up as SF_<NAME>_… (one integration user per CRM system).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as SFError

from .errors import ApplyStopped, SalesforceError

RETRIEVE_CHUNK = 2000     # POST composite/sobjects/{object}: up to 2,000 ids per call
COLLECTION_CHUNK = 200    # PATCH composite/sobjects: up to 200 records per call


def _env(name: str, org: str | None, env) -> str | None:
    if org:
        v = env.get(f"SF_{org.upper()}_{name}")
        if v:
            return v
    return env.get(f"SF_{name}") or None


def connect(org: str | None = None, env=None) -> "Client":
    """Connect as the integration user named by the environment (see module docstring)."""
    env = os.environ if env is None else env
    session = requests.Session()
    ca = _env("CA_BUNDLE", org, env)
    if ca:
        session.verify = ca
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override the CA we trust
    version = _env("API_VERSION", org, env) or "59.0"
    url, sid = _env("INSTANCE_URL", org, env), _env("SESSION_ID", org, env)
    user, pw = _env("USERNAME", org, env), _env("PASSWORD", org, env)
    prefix = f"SF_{org.upper()}_… or SF_…" if org else "SF_…"
    try:
        if url and sid:
            sf = Salesforce(instance_url=url, session_id=sid, session=session, version=version)
        elif user and pw:
            sf = Salesforce(username=user, password=pw, security_token=_env("SECURITY_TOKEN", org, env) or "",
                            domain=_env("DOMAIN", org, env) or "login", session=session, version=version)
        else:
            raise SalesforceError(f"No Salesforce credentials in the environment ({prefix}). Set SF_INSTANCE_URL and "
                                  "SF_SESSION_ID, or SF_USERNAME, SF_PASSWORD and SF_SECURITY_TOKEN; for the local "
                                  "sandbox org also SF_CA_BUNDLE (see `reconcile sandbox serve`).")
    except SFError as e:
        raise SalesforceError(f"Salesforce login failed: {_short(e)}. Check the credentials in the environment.") from e
    return Client(sf)


def _short(e: Exception) -> str:
    content = getattr(e, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return f"{content[0].get('errorCode')}: {content[0].get('message')}"
    return str(e).splitlines()[0][:200]


def error_code(e: Exception) -> str | None:
    content = getattr(e, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode")
    return None


@dataclass
class Client:
    """The calls reconcile makes, with transient-error retries and clean stops. Counts its requests."""

    sf: Salesforce
    requests_made: int = 0
    retries: int = 0
    backoff: float = 0.5
    max_attempts: int = 5
    api_usage: dict = field(default_factory=dict)

    def _call(self, fn, *args, **kwargs):
        """One API call. 5xx → retry with backoff; 401 / REQUEST_LIMIT_EXCEEDED → ApplyStopped (resumable)."""
        for attempt in range(1, self.max_attempts + 1):
            self.requests_made += 1
            try:
                result = fn(*args, **kwargs)
                self.api_usage = dict(getattr(self.sf, "api_usage", {}) or {})
                return result
            except SFError as e:
                status, code = getattr(e, "status", None), error_code(e)
                if status == 401 or code == "INVALID_SESSION_ID":
                    raise ApplyStopped("Salesforce session expired (INVALID_SESSION_ID). Nothing was lost: refresh "
                                       "the session (SF_SESSION_ID) and rerun the same command to resume.") from e
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise ApplyStopped("Salesforce API request limit reached (REQUEST_LIMIT_EXCEEDED). Nothing was "
                                       "lost: rerun the same command after the limit resets to resume.") from e
                if status is not None and status >= 500 and attempt < self.max_attempts:
                    self.retries += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise SalesforceError(f"Salesforce refused the request: {_short(e)}.") from e
            except requests.ConnectionError as e:
                if attempt < self.max_attempts:
                    self.retries += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise SalesforceError(f"Salesforce at '{self.sf.sf_instance}' cannot be reached ({e}).") from e
        raise AssertionError("unreachable")

    # ---- reads
    def query_all(self, soql: str) -> list[dict]:
        records, result = [], self._call(self.sf.query, soql)
        records.extend(result["records"])
        while not result.get("done", True):
            result = self._call(self.sf.query_more, result["nextRecordsUrl"], identifier_is_url=True)
            records.extend(result["records"])
        return [{k: v for k, v in r.items() if k != "attributes"} for r in records]

    bulk_wait: float = 1.0  # seconds between Bulk API 2.0 job polls

    def bulk_query(self, sobject: str, soql: str) -> list[str]:
        """Bulk API 2.0 query: CSV pages (each with its header)."""
        self.requests_made += 1
        return list(getattr(self.sf.bulk2, sobject).query(soql, max_records=50000, wait=self.bulk_wait))

    def retrieve(self, sobject: str, ids: list[str], fields: list[str]) -> list[dict]:
        """Current values of `fields` for `ids` (POST composite/sobjects/{object}, 2,000 ids a call)."""
        out = []
        for i in range(0, len(ids), RETRIEVE_CHUNK):
            chunk = ids[i:i + RETRIEVE_CHUNK]
            rows = self._call(self.sf.restful, f"composite/sobjects/{sobject}", method="POST",
                              json={"ids": chunk, "fields": ["Id", *fields]})
            out.extend({k: v for k, v in r.items() if k != "attributes"} for r in rows if r)
        return out

    def count(self, sobject: str) -> int:
        return int(self._call(self.sf.query, f"SELECT count() FROM {sobject}").get("totalSize", 0))

    def userinfo(self) -> dict:
        """The OAuth userinfo of the session (its user_id names the connected user)."""
        return self._call(self.sf.oauth2, "userinfo")

    def describe(self, sobject: str) -> dict:
        return self._call(self.sf.restful, f"sobjects/{sobject}/describe")

    def limits(self) -> dict:
        return self._call(self.sf.restful, "limits/")

    # ---- writes
    def update_collection(self, records: list[dict]) -> list[dict]:
        """PATCH composite/sobjects, allOrNone false; ≤ 200 records (each with attributes.type and id)."""
        return self._call(self.sf.restful, "composite/sobjects", method="PATCH",
                          json={"allOrNone": False, "records": records})

    def bulk_update(self, sobject: str, records: list[dict]) -> tuple[str, str]:
        """Bulk API 2.0 update job; returns (successful CSV, failed CSV)."""
        handler = getattr(self.sf.bulk2, sobject)
        for attempt in range(1, self.max_attempts + 1):
            self.requests_made += 1
            try:
                jobs = handler.update(records=records, wait=self.bulk_wait)
                break
            except SFError as e:
                code, status = error_code(e), getattr(e, "status", None)
                if status == 401 or code in ("INVALID_SESSION_ID", "REQUEST_LIMIT_EXCEEDED"):
                    raise ApplyStopped(f"Salesforce stopped the bulk job ({code}). Rerun the same command to "
                                       "resume.") from e
                if status is not None and status >= 500 and attempt < self.max_attempts:
                    self.retries += 1  # updates are idempotent: resubmitting the same values is safe
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise SalesforceError(f"Salesforce refused the bulk job: {_short(e)}.") from e
        ok, failed = [], []
        for job in jobs:
            ok.append(handler.get_successful_records(job["job_id"]))
            failed.append(handler.get_failed_records(job["job_id"]))
        return "".join(ok), "".join(failed)
