"""The only importer of simple_salesforce: log in from environment variables and make the few calls we need.

Credentials come from the environment only (see `credentials` and README "Connecting to your org"); they are
never written to plans, notebooks, reports or logs. Client credentials and JWT bearer post to
`<SF_LOGIN_URL>/services/oauth2/token` through simple-salesforce's `token_login`; its `Salesforce(consumer_key=…)`
wrappers are not used because they hard-code `https://{domain}.salesforce.com` as token URL and JWT audience
(no local sandbox org, no non-salesforce.com login host) and re-authenticate only REST calls, never Bulk API 2.0.
Every request carries a (connect, read) timeout through `credentials.TimeoutSession`.
"""

from __future__ import annotations

import base64
import csv
import io
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import JobState, LineEnding, Operation, ResultsType, _convert_dict_to_csv, _split_csv
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.exceptions import SalesforceError as SFError
from simple_salesforce.format import format_soql
from simple_salesforce.login import SalesforceLogin, token_login

from .credentials import (
    HELP,
    LEGACY_WARNING,
    Credentials,
    http_session,
    is_unsent,
    read_credentials,
    read_private_key,
    redact,
    register_secret,
    transport_problem,
)
from .errors import ApplyStopped, SalesforceError

RETRIEVE_CHUNK = 2000  # POST composite/sobjects/{object}: up to 2,000 ids per call
COLLECTION_CHUNK = 200  # PATCH composite/sobjects: up to 200 records per call
OAUTH_FLOWS = ("client_credentials", "jwt")
FINISHED = (JobState.job_complete, JobState.failed, JobState.aborted)  # a Bulk API 2.0 job that writes no more
RENEWABLE_FLOWS = OAUTH_FLOWS + ("password",)  # the credentials can log in again; a pasted session cannot


def connect(org: str | None = None, env=None, warn=None) -> "Client":
    """Log in as the integration user named by the environment (SF_… or, with `org`, SF_<ORG>_… only)."""
    creds = read_credentials(org, env)
    session = http_session(creds)
    if creds.flow == "password":
        (warn or (lambda m: print(m, file=sys.stderr)))(LEGACY_WARNING)
    relogin = (lambda: login(creds, session)) if creds.flow in RENEWABLE_FLOWS else None
    return Client(login(creds, session), creds=creds, relogin=relogin)


def login(creds: Credentials, session: requests.Session) -> Salesforce:
    """A simple-salesforce connection for `creds`; SalesforceError (one line, no secret) if it fails."""
    if creds.flow == "session":
        return Salesforce(
            instance_url=creds.instance_url,
            session_id=creds.get("SESSION_ID"),
            session=session,
            version=creds.api_version,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # token_login's multi-line hint; our message names the fix
            if creds.flow == "password":
                token, instance = SalesforceLogin(
                    username=creds.get("USERNAME"),
                    password=creds.get("PASSWORD"),
                    security_token=creds.get("SECURITY_TOKEN") or "",
                    sf_version=creds.api_version,
                    session=session,
                    domain=creds.get("DOMAIN") or "login",
                    scratch_url=creds.login_url if creds.get("LOGIN_URL") else None,
                )
            else:
                data, headers = _token_request(creds)
                token, instance = token_login(
                    f"{creds.login_url}/services/oauth2/token",
                    data,
                    creds.host,
                    creds.get("CLIENT_ID"),
                    headers,
                    None,
                    session,
                )
    except SalesforceAuthenticationFailed as e:
        # the library's exception carries the endpoint's whole answer, which may echo the credentials sent:
        # keep it for --debug only as a redacted copy (safe in a notebook's traceback too)
        answer = LoginAnswer(redact(f"{e.code}: {e.auth_message}"))
        raise SalesforceError(_login_refused(creds, e.code, e.auth_message)) from answer
    except requests.RequestException as e:
        raise SalesforceError(f"Salesforce login failed: {transport_problem(e, creds)}.") from e
    register_secret(token)
    return Salesforce(instance=instance, session_id=token, session=session, version=creds.api_version)


class LoginAnswer(Exception):
    """What the login endpoint answered, every credential value redacted."""


def _token_request(creds: Credentials) -> tuple[dict, dict | None]:
    """Form fields and headers of the token request (Salesforce: OAuth 2.0 Client Credentials Flow / JWT Bearer
    Flow for Server-to-Server Integration). The JWT's audience is the login URL itself."""
    if creds.flow == "client_credentials":
        basic = base64.b64encode(f"{creds.get('CLIENT_ID')}:{creds.get('CLIENT_SECRET')}".encode()).decode()
        register_secret(basic)  # an error page that echoes the request headers must not leak it either
        return {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}
    key = read_private_key(creds.get("PRIVATE_KEY_FILE"), creds.var("PRIVATE_KEY_FILE"))
    claims = {
        "iss": creds.get("CLIENT_ID"),
        "sub": creds.get("USERNAME"),
        "aud": creds.login_url,
        "exp": int((datetime.now(timezone.utc) + timedelta(minutes=3)).timestamp()),
    }
    try:
        assertion = jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as e:
        raise SalesforceError(
            f"{creds.var('PRIVATE_KEY_FILE')} holds no usable RSA private key "
            f"({type(e).__name__}). Point it at the key of the certificate uploaded to the app "
            f"({HELP})."
        ) from None
    register_secret(assertion)
    return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}, None


def _login_refused(creds: Credentials, code, description) -> str:
    text = redact(" ".join(str(description or "").split()))[:200]
    what = f"{code}: {text}" if text else str(code)
    v = creds.var
    if creds.flow == "client_credentials":
        fix = (
            f"use your My Domain URL (https://acme.my.salesforce.com) as {v('LOGIN_URL')}"
            if "domain" in text
            else "set the app's client credentials Run As user"
            if "user" in text
            else f"check {v('CLIENT_ID')} and {v('CLIENT_SECRET')} (the app's consumer key and secret) and "
            f"{v('LOGIN_URL')}"
        )
    elif creds.flow == "jwt":
        fix = (
            f"check that {v('PRIVATE_KEY_FILE')} matches the certificate uploaded to the app, that "
            f"{v('USERNAME')} is pre-authorized for it, {v('CLIENT_ID')} is its consumer key and {v('LOGIN_URL')} "
            "the URL it logs in at"
        )
    else:
        fix = (
            f"check {v('USERNAME')}, {v('PASSWORD')} and {v('SECURITY_TOKEN')}, or better switch to client credentials"
        )
    return f"Salesforce refused the {creds.flow_name} login at '{creds.host}' ({what}): {fix} ({HELP})."


def _first_error(e: BaseException | None) -> dict | None:
    """The first error of a Salesforce error answer ([{"errorCode": …, "message": …}]), None for anything else."""
    content = getattr(e, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0]
    return None


def _short(e: Exception) -> str:
    first = _first_error(e)
    if first is not None:
        return f"{first.get('errorCode')}: {first.get('message')}"
    return redact(str(e).splitlines()[0][:200])


def error_code(e: BaseException | None) -> str | None:
    """The errorCode of a Salesforce error answer (e.g. UNABLE_TO_LOCK_ROW), None for anything else."""
    first = _first_error(e)
    return first.get("errorCode") if first is not None else None


REAUTH, STOP, RETRY, FAIL = "reauth", "stop", "retry", "fail"
REQUEST_LIMIT = (
    "Salesforce API request limit reached (REQUEST_LIMIT_EXCEEDED). Nothing was lost: rerun the same "
    "command after the limit resets to resume."
)


# What to do about an error answer that no retry or re-login can mend: said after Salesforce's own words.
FIXES = {
    "API_CURRENTLY_DISABLED": "The integration user needs the 'API Enabled' permission (its profile or permission "
    "set, seed §3.1); an API-only user is useless without it",
}


def classify(e: SFError) -> str:
    """What an error answer means for the call that got it (the one classification of Salesforce errors):
    REAUTH — 401 / INVALID_SESSION_ID: log in again once (client credentials, JWT), else end the session cleanly;
    STOP — REQUEST_LIMIT_EXCEEDED: stop resumably (REQUEST_LIMIT);
    RETRY — 5xx: transient, retried with backoff; FAIL — anything else: one SalesforceError naming the answer."""
    status, code = getattr(e, "status", None), error_code(e)
    if status == 401 or code == "INVALID_SESSION_ID":
        return REAUTH
    if code == "REQUEST_LIMIT_EXCEEDED":
        return STOP
    if status is not None and status >= 500:
        return RETRY
    return FAIL


def soql(query: str, *values) -> str:
    """`query` with each `{}` replaced by a value quoted as a SOQL literal (strings escaped, lists as `(…)`):
    the one place SOQL literals are written (simple-salesforce's format_soql)."""
    return format_soql(query, *values)


@dataclass
class Client:
    """The calls reconcile makes, with retries, one re-login on session expiry (OAuth flows) and clean stops.

    `answered` counts calls Salesforce answered: an invalid session before the first answer is a credentials
    problem (exit 1), after it the session expired during the run (exit 3, resumable).
    """

    sf: Salesforce
    creds: Credentials | None = None
    relogin: object = None  # () -> Salesforce for client credentials / JWT / password; None for a pasted session
    requests_made: int = 0
    retries: int = 0
    reauths: int = 0
    answered: int = 0
    backoff: float = 0.5
    max_attempts: int = 5  # 5xx and lost connections
    timeout_attempts: int = 2  # a request that timed out is sent once more (when that is safe)
    bulk_wait: float = 1.0  # seconds between Bulk API 2.0 job polls
    api_usage: dict = field(default_factory=dict)
    identity: dict | None = None

    @property
    def instance_url(self) -> str:
        """https://<host> of the org this client's session works on (where it reads and writes)."""
        return f"https://{self.sf.sf_instance}".lower()

    @property
    def flow(self) -> str:
        return self.creds.flow if self.creds else "session"

    def _call(self, name: str, *args, safe: bool = True, **kwargs):
        """self.sf.<name>(…) once, plus retries. `safe`: resending cannot change anything (reads, idempotent)."""
        result = self._retrying(lambda: getattr(self.sf, name)(*args, **kwargs), safe, "the request")
        self.api_usage = dict(getattr(self.sf, "api_usage", {}) or {})
        return result

    def _retrying(self, run, safe: bool, what: str):
        """run() under the one error policy of every Salesforce call: error answers as `classify` says; transport
        errors retried with backoff when resending is safe (reads and updates are idempotent)."""
        reauthed, attempt = False, 0
        while True:
            attempt += 1
            self.requests_made += 1
            session = self.sf
            try:
                result = run()
            except SFError as e:
                kind = classify(e)
                if (
                    kind == REAUTH
                ):  # a call made within run() may have logged in again already (_abandon): once is enough
                    if not reauthed and (self.sf is not session or self._reauthenticate()):
                        reauthed = True
                        continue
                    raise self._session_ended() from e
                if kind == STOP:
                    raise ApplyStopped(REQUEST_LIMIT, "REQUEST_LIMIT_EXCEEDED") from e
                if kind == RETRY and attempt < self.max_attempts:
                    self._pause(attempt)
                    continue
                if kind == RETRY and safe:  # an outage (README runbook: apply the same plan again); a write that keeps
                    # failing is not stopped here: writeback splits its batch to isolate a record the org cannot take
                    raise ApplyStopped(
                        f"Salesforce is unavailable: {_short(e)} (still after {attempt} attempts). Nothing was lost: "
                        "rerun the same command to resume once the org answers (https://status.salesforce.com).",
                        error_code(e),
                    ) from e
                fix = FIXES.get(error_code(e))
                raise SalesforceError(f"Salesforce refused {what}: {_short(e)}." + (f" {fix}." if fix else "")) from e
            except requests.RequestException as e:
                if self._may_retry(e, safe, attempt):
                    self._pause(attempt)
                    continue
                raise self._transport_error(e, safe) from e
            self.answered += 1
            return result

    def _pause(self, attempt: int) -> None:
        self.retries += 1
        time.sleep(self.backoff * 2 ** (attempt - 1))

    def renew_session(self) -> str | None:
        """A fresh access token for another API that takes the org's OAuth token (Account Engagement), or None
        when this login cannot be renewed (a pasted session)."""
        return self.sf.session_id if self._reauthenticate() else None

    def _reauthenticate(self) -> bool:
        """Log in again (client credentials / JWT); False for a pasted session, which cannot be renewed."""
        if self.relogin is None:
            return False
        try:
            self.sf = self.relogin()
        except SalesforceError as e:
            if not self.answered:
                raise
            raise ApplyStopped(
                f"The Salesforce session expired and logging in again failed: {e} Nothing was lost: "
                "rerun the same command to resume once the login works.",
                "INVALID_SESSION_ID",
            ) from None
        self.reauths += 1
        return True

    def _session_ended(self) -> SalesforceError:
        var = self.creds.var("SESSION_ID") if self.creds else "SF_SESSION_ID"
        if not self.answered and self.flow == "session":
            return SalesforceError(
                f"Salesforce rejected the session id (INVALID_SESSION_ID) at the start: {var} is "
                "wrong or has expired. Set a current one, or better use client credentials "
                f"({HELP})."
            )
        if not self.answered:
            return SalesforceError(
                "Salesforce rejected the access token it had just issued (INVALID_SESSION_ID): "
                f"give the app the 'api' OAuth scope ({HELP})."
            )
        if self.flow == "session":
            return ApplyStopped(
                "Salesforce session expired during the run (INVALID_SESSION_ID). Nothing was lost: "
                f"refresh the session ({var}) and rerun the same command to resume.",
                "INVALID_SESSION_ID",
            )
        return ApplyStopped(
            "Salesforce session expired again right after logging in again (INVALID_SESSION_ID). "
            "Nothing was lost: rerun the same command to resume.",
            "INVALID_SESSION_ID",
        )

    def _may_retry(self, e: requests.RequestException, safe: bool, attempt: int) -> bool:
        if isinstance(e, requests.exceptions.SSLError) or "cannot be found (DNS)" in self._problem(e):
            return False
        if isinstance(e, requests.exceptions.Timeout):
            return attempt < self.timeout_attempts and (safe or is_unsent(e))
        if isinstance(e, requests.ConnectionError):
            return attempt < self.max_attempts and (safe or is_unsent(e))
        return False

    def _problem(self, e: requests.RequestException) -> str:
        if self.creds is None:
            return str(e).splitlines()[0][:200]
        return transport_problem(e, self.creds)

    def _transport_error(self, e: requests.RequestException, safe: bool) -> SalesforceError:
        problem = self._problem(e)
        if not safe and not is_unsent(e) and isinstance(e, (requests.Timeout, requests.ConnectionError)):
            return ApplyStopped(
                f"Salesforce did not answer a write: {problem}. The write may or may not have "
                "been applied; nothing was lost: rerun the same command to resume (apply re-reads "
                "every record first)."
            )
        if safe and self.answered:  # it answered earlier in this run: an outage, not a wrong address
            return ApplyStopped(
                f"Salesforce cannot be reached any more: {problem}. Nothing was lost: rerun the same command to "
                "resume once the org answers."
            )
        return SalesforceError(f"Salesforce cannot be reached: {problem}.")

    # ---- reads
    def query_all(self, soql: str) -> list[dict]:
        records, result = [], self._call("query", soql)
        records.extend(result["records"])
        while not result.get("done", True):
            result = self._call("query_more", result["nextRecordsUrl"], identifier_is_url=True)
            records.extend(result["records"])
        return [{k: v for k, v in r.items() if k != "attributes"} for r in records]

    def bulk_query(self, sobject: str, soql: str) -> list[str]:
        """Bulk API 2.0 query: CSV pages (each with its header). Read-only, so safe to run again. simple-salesforce
        creates the job, polls it and reads each page within one call: requests_made counts each of those requests."""
        made, session = self.requests_made, getattr(self.sf, "session", None)
        sent = getattr(session, "sent", None)  # credentials.TimeoutSession counts what it sends
        pages = self._bulk(
            lambda: list(getattr(self.sf.bulk2, sobject).query(soql, max_records=50000, wait=self.bulk_wait)), safe=True
        )
        if sent is not None and getattr(self.sf, "session", None) is session:
            self.requests_made = max(self.requests_made, made + session.sent - sent)
        return pages

    def retrieve(self, sobject: str, ids: list[str], fields: list[str]) -> list[dict]:
        """Current values of `fields` for `ids` (POST composite/sobjects/{object}, 2,000 ids a call)."""
        out = []
        for i in range(0, len(ids), RETRIEVE_CHUNK):
            chunk = ids[i : i + RETRIEVE_CHUNK]
            rows = self._call(
                "restful",
                f"composite/sobjects/{sobject}",
                method="POST",
                json={"ids": chunk, "fields": ["Id", *fields]},
            )
            out.extend({k: v for k, v in r.items() if k != "attributes"} for r in rows if r)
        return out

    def count(self, sobject: str) -> int:
        return int(self._call("query", f"SELECT count() FROM {sobject}").get("totalSize", 0))

    def userinfo(self) -> dict:
        """The OAuth userinfo of the session (its user_id names the connected user); kept in `identity`."""
        self.identity = self._call("oauth2", "userinfo")
        return self.identity

    def describe(self, sobject: str) -> dict:
        return self._call("restful", f"sobjects/{sobject}/describe")

    def limits(self) -> dict:
        return self._call("restful", "limits/")

    # ---- writes
    def update_collection(self, records: list[dict]) -> list[dict]:
        """PATCH composite/sobjects, allOrNone false; ≤ 200 records (each with attributes.type and id)."""
        return self._call(
            "restful", "composite/sobjects", method="PATCH", safe=False, json={"allOrNone": False, "records": records}
        )

    def bulk_update(self, sobject: str, records: list[dict], on_job=None, on_abandoned=None) -> tuple[str, str]:
        """Bulk API 2.0 update job(s) (one per ~100 MB of CSV); returns (successful CSV, failed CSV).

        Driven step by step rather than through `bulk2.<object>.update`, whose one call retried as a whole would
        send a committed job again when a later read failed: creating, uploading and closing a job is one unit
        (nothing is written before Salesforce answers the close), so it is what is resent; once closed the job
        writes, and only the reads after it (poll, results) are retried — never the job. A job whose upload or
        close failed is settled before the unit is sent again (_submit_update): followed if it was closed after all,
        else aborted, so none is left Open.
        on_job(job_id, record ids): called as soon as Salesforce created a job, before its data is uploaded, so
        the caller can make the job id durable before the job can run (apply's audit; see bulk_job_results).
        on_abandoned(job_id, record ids, note): a job was given up after its upload or close failed; `note` says
        whether it was aborted."""
        ok, failed = [], []
        for _count, data in _split_csv(records=_convert_dict_to_csv(records), line_ending=LineEnding.LF):
            ids = [row["Id"] for row in csv.DictReader(io.StringIO(data))]
            created = (lambda job_id, ids=ids: on_job(job_id, ids)) if on_job else None
            dropped = (lambda job_id, note, ids=ids: on_abandoned(job_id, ids, note)) if on_abandoned else None
            job_id = self._bulk(
                lambda data=data, c=created, d=dropped: self._submit_update(sobject, data, c, d), safe=False
            )
            self._wait_for_ingest(sobject, job_id)
            ok_csv, failed_csv = self._ingest_results(sobject, job_id)
            ok.append(ok_csv)
            failed.append(failed_csv)
        return "".join(ok), "".join(failed)

    def bulk_job_results(self, sobject: str, job_id: str) -> tuple[str, str, str] | None:
        """(final state, successful CSV, failed CSV) of an ingest job an interrupted run created; None when
        Salesforce no longer has it (NOT_FOUND: jobs are deleted days after they finish, so it ran long ago).

        A closed job runs asynchronously (UploadComplete → InProgress → JobComplete | Failed, Bulk API 2.0 "Get
        Information About a Job"), so it is polled until it has finished, never sent again. A job never closed
        (Open) is aborted so it can never run: ("Aborted", "", "")."""
        try:
            info = self._bulk(lambda: self._bulk2(sobject).get_job(job_id, False), safe=True)
        except SalesforceError as e:
            if getattr(e.__cause__, "status", None) == 404:
                return None
            raise
        if info["state"] == JobState.open:
            self._bulk(lambda: self._bulk2(sobject).abort_job(job_id, False), safe=False)
            return JobState.aborted, "", ""
        if info["state"] not in FINISHED:
            info = self._poll_ingest(sobject, job_id)
        return (info["state"], *self._ingest_results(sobject, job_id))

    def _ingest_results(self, sobject: str, job_id: str) -> tuple[str, str]:
        return tuple(  # reads: retried, never the job
            self._bulk(lambda kind=kind: self._bulk2(sobject).get_ingest_results(job_id, kind), True)
            for kind in (ResultsType.successful, ResultsType.failed)
        )

    def _bulk2(self, sobject: str):
        return getattr(self.sf.bulk2, sobject)._client  # the current session's (it changes after a re-login)

    def _submit_update(self, sobject: str, data: str, on_created=None, on_abandoned=None) -> str:
        """One try at the create/upload/close unit. When the upload or the close fails after Salesforce created the
        job, that job is settled before the error goes on (to be sent again as a new job, or to stop the run): a
        close whose error answer hid a committed close is followed — its id returned as if the close had answered —
        and a job still Open is aborted (Bulk API 2.0 "Abort a Job"; best effort: an Open job never runs)."""
        bulk = self._bulk2(sobject)
        job_id = bulk.create_job(Operation.update)["id"]
        if on_created:
            on_created(job_id)
        step = "upload"
        try:  # three HTTP requests in one unit (_retrying counted the create): each is one the org counts
            self.requests_made += 1
            bulk.upload_job_data(job_id, data)
            step = "close"
            self.requests_made += 1
            bulk.close_job(job_id)
        except (SFError, requests.RequestException) as e:
            if step == "close" and self._closed_after_all(sobject, job_id, e):
                return job_id
            note = self._abandon(sobject, job_id, step, e)
            if on_abandoned:
                on_abandoned(job_id, note)
            raise
        return job_id

    def _closed_after_all(self, sobject: str, job_id: str, error: Exception) -> bool:
        """Whether a job whose close got an error answer was closed all the same (asked for: not Open). When
        Salesforce cannot say, the run stops: sending the job again could run its records twice."""
        try:
            info = self._bulk(lambda: self._bulk2(sobject).get_job(job_id, False), safe=True)
        except (SalesforceError, ApplyStopped) as e:  # an outage stops the read too (_retrying)
            raise ApplyStopped(
                f"Closing the bulk job {job_id} failed ({self._what(error)}) and Salesforce cannot say whether it "
                f"was closed: {e} Nothing was lost: rerun the same command to resume from that job."
            ) from e
        return info["state"] != JobState.open

    def _abandon(self, sobject: str, job_id: str, step: str, error: Exception) -> str:
        """Abort a job whose upload or close failed; what happened, for the audit. Best effort: a job left Open
        never runs (a rerun aborts it, see bulk_job_results)."""
        why = f"its {step} failed ({self._what(error)})"
        try:
            self._bulk(lambda: self._bulk2(sobject).abort_job(job_id, False), safe=True)
        except (SalesforceError, ApplyStopped) as e:
            return f"Bulk API 2.0 job {job_id} not aborted after {why}: {e} It stays Open, which never runs."
        return f"Bulk API 2.0 job {job_id} aborted after {why}."

    def _what(self, e: Exception) -> str:
        return _short(e) if isinstance(e, SFError) else self._problem(e)

    def _wait_for_ingest(self, sobject: str, job_id: str) -> None:
        """Poll the closed job until it is JobComplete; Failed or Aborted: SalesforceError. What such a job processed
        stays written (Bulk API 2.0 "Get Information About a Job": Failed data "isn't rolled back"), so the run
        stops and a rerun takes that job's results (bulk_job_results): those are applied, not written twice."""
        info = self._poll_ingest(sobject, job_id)
        if info["state"] in (JobState.failed, JobState.aborted):
            raise SalesforceError(
                f"Salesforce refused the bulk job {job_id} ({info['state']}): "
                f"{redact(str(info.get('errorMessage') or '?'))[:200]}."
            )

    def _poll_ingest(self, sobject: str, job_id: str) -> dict:
        """The job's info once it has finished (JobComplete, Failed or Aborted), polling with a growing delay."""
        delay = self.bulk_wait
        while True:
            time.sleep(delay)
            info = self._bulk(lambda: self._bulk2(sobject).get_job(job_id, False), safe=True)
            if info["state"] in FINISHED:
                return info
            delay = min(delay * 2, 2.0)

    def _bulk(self, run, safe: bool):
        """Bulk API 2.0 work: simple-salesforce never re-authenticates it, so a 401 logs in again here too."""
        return self._retrying(run, safe, "the bulk job")
