"""Routing and the request pipeline: authentication, API counter, faults, saving (transport.py serves it)."""

import re
import time

from . import bulk, oauth, rest, soap
from .state import Org
from .web import ApiError, Request, Response, not_found

_V = r"/services/data/v(\d+\.\d)"
ROUTES = [  # (methods, pattern, handler, mutating)
    ("GET", r"/services/data/?", rest.versions, False),
    ("POST", r"/services/oauth2/token/?", oauth.token, False),
    ("POST", r"/services/Soap/u/(\d+\.\d)/?", soap.login, False),
    ("GET POST", r"/services/oauth2/userinfo/?", rest.userinfo, False),
    ("GET", _V + r"/?", rest.resources, False),
    ("GET", r"/id/(00D\w+)/(005\w+)/?", rest.identity, False),
    ("GET", _V + r"/limits/?", rest.limits, False),
    ("GET", _V + r"/(query|queryAll)/?", rest.query, False),
    ("GET", _V + r"/(query|queryAll)/(01g\w+)-(\d+)/?", rest.query_more, False),
    ("GET", _V + r"/sobjects/?", rest.sobjects, False),
    ("GET", _V + r"/sobjects/(\w+)/?", rest.sobject_info, False),
    ("GET", _V + r"/sobjects/(\w+)/describe/?", rest.describe, False),
    ("GET", _V + r"/sobjects/(\w+)/(\w+)/?", rest.get_record, False),
    ("PATCH", _V + r"/sobjects/(\w+)/(\w+)/?", rest.patch_record, True),
    ("DELETE", _V + r"/sobjects/(\w+)/(\w+)/?", rest.delete_record, True),
    ("PATCH", _V + r"/composite/sobjects/?", rest.collection_update, True),
    ("DELETE", _V + r"/composite/sobjects/?", rest.collection_delete, True),
    ("GET POST", _V + r"/composite/sobjects/(\w+)/?", rest.collection_retrieve, False),
    ("GET", _V + r"/jobs/(?:ingest|query)/?", bulk.list_jobs, False),
    ("POST", _V + r"/jobs/ingest/?", bulk.create_ingest, True),
    ("PUT", _V + r"/jobs/ingest/(\w+)/batches/?", bulk.upload, True),
    ("PATCH", _V + r"/jobs/ingest/(\w+)/?", bulk.set_ingest_state, True),
    ("GET", _V + r"/jobs/(?:ingest|query)/(\w+)/?", bulk.get_job, False),
    ("DELETE", _V + r"/jobs/(?:ingest|query)/(\w+)/?", bulk.delete_job, True),
    ("GET", _V + r"/jobs/ingest/(\w+)/(successfulResults|failedResults|unprocessedRecords)/?", bulk.results, False),
    ("POST", _V + r"/jobs/query/?", bulk.create_query, False),
    ("GET", _V + r"/jobs/query/(\w+)/results/?", bulk.query_results, False),
]
_COMPILED = [(m.split(), re.compile(p + "$", re.IGNORECASE), h, w) for m, p, h, w in ROUTES]
UNAUTHENTICATED = (rest.versions, oauth.token, soap.login)


_VERSIONED = re.compile(_V + r"(?:/.*)?$", re.IGNORECASE)


def route(method: str, path: str):
    """(handler, groups, mutating) for a request; ApiError 404/405 if nothing matches. HEAD is served by every GET
    route (the resource pages list GET and HEAD; HEAD answers the GET's headers without its body,
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_resources.htm)."""
    allowed = []
    for methods, pattern, handler, mutating in _COMPILED:
        match = pattern.match(path)
        if match:
            if method in methods or (method == "HEAD" and "GET" in methods):
                return handler, match.groups(), mutating
            allowed += methods + (["HEAD"] if "GET" in methods else [])
    if allowed:
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are {','.join(sorted(set(allowed)))}",
        )
    raise not_found()


def dispatch(org: Org, req: Request) -> Response:
    """Everything between the socket and a handler, in the order a real org would apply it."""
    faults = org.faults
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)
    versioned = _VERSIONED.match(req.path)
    if versioned and float(versioned.group(1)) > rest.LATEST:
        return not_found().response()  # a version this org does not have yet
    if versioned and float(versioned.group(1)) < rest.FIRST_SUPPORTED:  # retired: REST answers 410 GONE (rest.py)
        return ApiError(410, "GONE", f"API version {versioned.group(1)} is retired and unavailable.").response()
    try:
        handler, groups, mutating = route(req.method, req.path)
    except ApiError as err:
        if not versioned:
            return err.response()
        # a version's resources are behind the session: a bad token is 401 whatever the path, and with a good
        # one a 404/405 is an API call like any other, with its Sforce-Limit-Info ("API Usage",
        # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm)
        handler, groups, mutating = err, versioned.groups(), False
    if handler in UNAUTHENTICATED:
        req.org, req.match = org, groups
        with org.lock:
            return handler(req)
    with org.lock:
        if faults.session_expires_now():
            org.expire_session("integration")
        if faults.next_request_is_503(f"{req.method} {req.path}"):
            return _unavailable()
        token = _session_token(req.headers.get("authorization", ""))
        req.user = org.user_for_session(token)
        if req.user is None:
            return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid").response()
        if not req.user.api_enabled:
            return ApiError(403, "API_CURRENTLY_DISABLED", "API is disabled for this User").response()
        if org.api_used >= org.daily_limit:
            return _with_usage(org, ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").response())
        org.api_used += 1
    req.org, req.version = org, (groups[0] if groups and "/services/data/v" in req.path else "59.0")
    req.match = groups[1:] if req.path.startswith("/services/data/v") else groups
    with org.lock:  # one request at a time touches the org: simple and race-free
        try:
            if isinstance(handler, ApiError):
                raise handler
            response = handler(req)
        except ApiError as err:
            response = err.response()
        if mutating and response.status < 300:
            org.save()
        if response.status < 300 and faults.answer_is_lost(f"{req.method} {req.path}"):
            response = _unavailable()  # carried out, but the caller hears a 503
        return _with_usage(org, response)


def _unavailable() -> Response:
    return ApiError(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable, try again later.").response()


def _with_usage(org: Org, response: Response) -> Response:
    response.headers["Sforce-Limit-Info"] = f"api-usage={org.api_used}/{org.daily_limit}"
    return response


def _session_token(header: str) -> str:
    """The session id of an Authorization header: `Bearer <token>` (Salesforce's REST docs), the auth scheme read
    case-insensitively as HTTP defines it (RFC 7235 §2.1, https://www.rfc-editor.org/rfc/rfc7235#section-2.1), and
    the older `OAuth <token>` form of Salesforce's first REST examples that older clients still send. Anything else
    is no session (401 INVALID_SESSION_ID)."""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else ""
