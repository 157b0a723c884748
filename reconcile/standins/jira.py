"""A Jira-shaped stand-in: the comment and issue endpoints of Jira Cloud (REST v3, ADF bodies, e-mail + API token)
and Jira Data Center (REST v2, personal access token), with their real response and error shapes, auth checked.

    with JiraStandin(flavor="cloud", issues=["KLN-35"]) as jira:      # jira.url, jira.email, jira.token
        ...                                                           # jira.comments["KLN-35"], jira.fail_next(500)

Any well-behaved client works against it (plain `requests` in the tests). In memory only.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import threading
from datetime import datetime, timezone

import tornado.web

from .http import Served, ServiceHandler, not_found_handler

NOT_FOUND = "Issue does not exist or you do not have permission to see it."
# Jira's answer to a missing or wrong credential on REST resources (HTTP 401, JSON error collection).
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
KEY = re.compile(r"^([A-Z][A-Z0-9_]+)-([0-9]+)$")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class JiraState:
    def __init__(self, flavor: str, issues: list[str], email: str, token: str):
        self.flavor, self.email, self.token = flavor, email, token
        self.lock = threading.Lock()
        self.issues: dict[str, dict] = {}
        self.comments: dict[str, list[dict]] = {}
        self.faults: list[int] = []
        self.requests: list[dict] = []
        self.ids = itertools.count(10000)
        # the projects: those of the seeded issues, ids as Jira numbers them (a project is named by key or id)
        self.projects = {p: str(n) for n, p in enumerate(dict.fromkeys(k.split("-")[0] for k in issues), 10000)}
        for key in issues:
            self.add_issue(key, f"Sprint ticket {key}")

    def add_issue(self, key: str, summary: str, description=None) -> dict:
        issue = {
            "id": str(next(self.ids)),
            "key": key,
            "fields": {
                "summary": summary,
                "description": description,
                "project": {"id": self.projects.get(key.split("-")[0]), "key": key.split("-")[0]},
                "issuetype": {"name": "Task"},
            },
        }
        self.issues[key] = issue
        self.comments[key] = []
        return issue

    def key_of(self, issue_id_or_key: str) -> str | None:
        """The key of the issue a path's {issueIdOrKey} names (Jira takes the numeric id or the key), else None."""
        if issue_id_or_key in self.issues:
            return issue_id_or_key
        return next((k for k, issue in self.issues.items() if issue["id"] == issue_id_or_key), None)

    def project_key(self, ref) -> str | None:
        """The key of the project a create's fields.project names ({"key": …} or {"id": …}), None if none exists."""
        if not isinstance(ref, dict):
            return None
        by_id = {v: k for k, v in self.projects.items()}
        return ref["key"] if ref.get("key") in self.projects else by_id.get(str(ref.get("id")))

    def next_key(self, project: str) -> str:
        n = max([int(KEY.match(k).group(2)) for k in self.issues if k.startswith(project + "-")] or [0])
        return f"{project}-{n + 1}"


class Base(ServiceHandler):
    state: JiraState

    def initialize(self, state: JiraState):
        self.state = state

    def error_body(self, status: int, message: str) -> dict:
        # a path no resource serves (404) or a method it does not take (405) in Jira's error collection too
        #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#status-codes
        return {"errorMessages": [message], "errors": {}}

    def error(self, status: int, messages=(), errors=None):
        # Jira's error collection: {"errorMessages": [...], "errors": {field: message}}
        self.set_status(status)
        self.finish({"errorMessages": list(messages), "errors": errors or {}})

    def prepare(self):
        st = self.state
        with st.lock:
            st.requests.append(
                {
                    "method": self.request.method,
                    "path": self.request.path,
                    "authorization": bool(self.request.headers.get("Authorization")),
                }
            )
            fault = st.faults.pop(0) if st.faults else None
        if fault:
            return self.error(fault, [f"Injected fault: HTTP {fault}."])
        version = self.path_kwargs.get("version")
        if st.flavor == "datacenter" and version == "3":  # Jira Data Center has no REST v3
            raise tornado.web.HTTPError(404)
        if not self._authorized():
            return self.error(401, [NOT_AUTHENTICATED])

    def _authorized(self) -> bool:
        header = self.request.headers.get("Authorization", "")
        st = self.state
        if st.flavor == "datacenter":
            # Data Center personal access tokens: "Authorization: Bearer <token>"
            # https://confluence.atlassian.com/enterprise/using-personal-access-tokens-1026032365.html
            return secrets.compare_digest(header, f"Bearer {st.token}")
        # Cloud: basic auth with the account e-mail and an API token
        # https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
        expected = "Basic " + base64.b64encode(f"{st.email}:{st.token}".encode()).decode()
        return secrets.compare_digest(header, expected)

    def body_json(self):
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            self.error(400, ["Unexpected character in the request body: it is not JSON."])
            return None

    def base(self) -> str:
        return f"{self.request.protocol}://{self.request.host}/rest/api/{self.path_kwargs['version']}"


def _is_adf(body) -> bool:
    return (
        isinstance(body, dict)
        and body.get("type") == "doc"
        and body.get("version") == 1
        and isinstance(body.get("content"), list)
    )


def _adf_is_empty(body) -> bool:
    """An ADF document with no text or other leaf node in it (Jira refuses such a comment: 400, "Comment body can
    not be empty!", as v2 does for a blank string)."""

    def leaves(node) -> bool:
        if not isinstance(node, dict):
            return False
        if node.get("type") == "text":
            return bool(str(node.get("text") or "").strip())
        content = node.get("content")
        if isinstance(content, list) and content:
            return any(leaves(c) for c in content)
        return node.get("type") not in ("doc", "paragraph", "heading", "bulletList", "orderedList", "listItem")

    return not leaves(body)


class CommentHandler(Base):
    # Cloud v3 "Add comment": POST /rest/api/3/issue/{issueIdOrKey}/comment, body in ADF → 201 + the comment
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post
    # Data Center v2 "Add comment": POST /rest/api/2/issue/{issueIdOrKey}/comment, body a string → 201
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-issue/#api-api-2-issue-issueidorkey-comment-post
    #   https://developer.atlassian.com/server/jira/platform/jira-rest-api-example-add-comment-8946422/
    def post(self, version, key):
        st = self.state
        key = st.key_of(key)
        if key is None:
            return self.error(404, [NOT_FOUND])
        doc = self.body_json()
        if doc is None:
            return
        body = doc.get("body") if isinstance(doc, dict) else None
        if version == "3" and not _is_adf(body):
            return self.error(
                400,
                [],
                {"comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"},
            )
        if version == "3" and _adf_is_empty(body):
            return self.error(400, [], {"comment": "Comment body can not be empty!"})
        if version == "2" and (not isinstance(body, str) or not body.strip()):
            return self.error(400, [], {"comment": "Comment body can not be empty!"})
        with st.lock:
            cid = str(next(st.ids))
            author = {"emailAddress": st.email, "displayName": "Reconcile integration", "active": True}
            comment = {
                "self": f"{self.base()}/issue/{st.issues[key]['id']}/comment/{cid}",
                "id": cid,
                "author": author,
                "updateAuthor": author,
                "body": body,
                "created": _now(),
                "updated": _now(),
            }
            st.comments[key].append(comment)
        self.set_status(201)
        self.finish(comment)

    # "Get comments": GET …/issue/{issueIdOrKey}/comment → a page of comments
    def get(self, version, key):
        key = self.state.key_of(key)
        if key is None:
            return self.error(404, [NOT_FOUND])
        comments = self.state.comments[key]
        # startAt / maxResults page the list (Jira caps a page at 5000 comments); a bad number is a 400
        #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-get
        try:
            start = int(self.get_query_argument("startAt", "0"))
            size = int(self.get_query_argument("maxResults", "5000"))
        except ValueError:
            return self.error(400, ["startAt and maxResults must be whole numbers."])
        if start < 0 or size < 0:
            return self.error(400, ["startAt and maxResults must not be negative."])
        size = min(size, 5000)
        page = comments[start : start + size]
        self.finish({"startAt": start, "maxResults": size, "total": len(comments), "comments": page})

    # HEAD: Jira's REST resources are JAX-RS (Jersey), which answers HEAD with the GET's headers and no body
    #   https://jakarta.ee/specifications/restful-ws/3.1/jakarta-restful-ws-spec-3.1#head_and_options
    head = get


class IssueCreateHandler(Base):
    # Cloud v3 "Create issue": POST /rest/api/3/issue {"fields": {project, summary, issuetype, description(ADF)}}
    #   → 201 {"id", "key", "self"}
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
    # Data Center v2 "Create issue": POST /rest/api/2/issue, description a string
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-issue/#api-api-2-issue-post
    def post(self, version):
        doc = self.body_json()
        if doc is None:
            return
        fields = doc.get("fields") if isinstance(doc, dict) else None
        fields = fields if isinstance(fields, dict) else {}
        errors = {}
        # Jira's field errors: a project that does not exist (by key or id), a summary missing, over 255
        # characters or on more than one line (the messages Jira answers in `errors`)
        project = self.state.project_key(fields.get("project"))
        if project is None:
            errors["project"] = "valid project is required"
        summary = fields.get("summary")
        if not summary or not isinstance(summary, str):
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        if not isinstance(fields.get("issuetype"), dict) or not (
            fields["issuetype"].get("name") or fields["issuetype"].get("id")
        ):
            errors["issuetype"] = "valid issue type is required"
        desc = fields.get("description")
        if desc is not None and version == "3" and not _is_adf(desc):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if desc is not None and version == "2" and not isinstance(desc, str):
            errors["description"] = "Operation value must be a string"
        if errors:
            return self.error(400, [], errors)
        with self.state.lock:
            issue = self.state.add_issue(self.state.next_key(project), fields["summary"], desc)
        self.set_status(201)
        self.finish({"id": issue["id"], "key": issue["key"], "self": f"{self.base()}/issue/{issue['id']}"})


class IssueHandler(Base):
    # "Get issue": GET …/issue/{issueIdOrKey}
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
    def get(self, version, key):
        issue = self.state.issues.get(self.state.key_of(key) or "")
        if issue is None:
            return self.error(404, [NOT_FOUND])
        comments = self.state.comments[issue["key"]]
        self.finish(
            {
                **issue,
                "self": f"{self.base()}/issue/{issue['id']}",
                "fields": {**issue["fields"], "comment": {"comments": comments, "total": len(comments)}},
            }
        )

    head = get  # JAX-RS HEAD, as on CommentHandler


class MyselfHandler(Base):
    # "Get current user": GET /rest/api/{2,3}/myself — how a client checks its credentials
    def get(self, version):
        st = self.state
        self.finish(
            {
                "accountId" if st.flavor == "cloud" else "name": "reconcile-integration",
                "emailAddress": st.email,
                "displayName": "Reconcile integration",
                "active": True,
            }
        )

    head = get  # JAX-RS HEAD, as on CommentHandler


class ServerInfoHandler(Base):
    # "Get Jira instance info": GET /rest/api/{2,3}/serverInfo — what a client library reads first (the `jira`
    # package's constructor does), to learn the deployment type and version
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-server-info/#api-rest-api-3-serverinfo-get
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-serverinfo/#api-api-2-serverinfo-get
    def get(self, version):
        cloud = self.state.flavor == "cloud"
        numbers = [1001, 0, 0] if cloud else [10, 3, 0]
        self.finish(
            {
                "baseUrl": f"{self.request.protocol}://{self.request.host}",
                "version": ".".join(map(str, numbers)) + ("-SNAPSHOT" if cloud else ""),
                "versionNumbers": numbers,
                "deploymentType": "Cloud" if cloud else "Server",
                "buildNumber": 100260 if cloud else 10030000,
                "buildDate": "2026-11-02T00:00:00.000+0000",
                "serverTime": _now(),
                "scmInfo": "0000000000000000000000000000000000000000",
                "serverTitle": "Jira (reconcile stand-in)",
            }
        )

    head = get  # JAX-RS HEAD, as on CommentHandler


class JiraStandin(Served):
    def __init__(
        self,
        flavor: str = "cloud",
        issues: list[str] = ("KLN-35",),
        port: int = 0,
        email: str = "reconcile@example.com",
        token: str | None = None,
    ):
        if flavor not in ("cloud", "datacenter"):
            raise ValueError("flavor is 'cloud' or 'datacenter'")
        self.state = JiraState(flavor, list(issues), email, token or secrets.token_urlsafe(24))
        kw = {"state": self.state}
        app = tornado.web.Application(
            [
                (r"/rest/api/(?P<version>[23])/issue/(?P<key>[^/]+)/comment", CommentHandler, kw),
                (r"/rest/api/(?P<version>[23])/issue", IssueCreateHandler, kw),
                (r"/rest/api/(?P<version>[23])/issue/(?P<key>[^/]+)", IssueHandler, kw),
                (r"/rest/api/(?P<version>[23])/myself", MyselfHandler, kw),
                (r"/rest/api/(?P<version>[23])/serverInfo", ServerInfoHandler, kw),
            ],
            default_handler_class=not_found_handler(Base),
            default_handler_args=kw,
        )
        super().__init__(app, port)

    flavor = property(lambda self: self.state.flavor)
    email = property(lambda self: self.state.email)
    token = property(lambda self: self.state.token)
    comments = property(lambda self: self.state.comments)
    issues = property(lambda self: self.state.issues)
    requests = property(lambda self: self.state.requests)

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.state.lock:
            self.state.faults += [status] * times

    def env(self) -> dict[str, str]:
        """The RECONCILE_JIRA_* variables that reach this stand-in."""
        if self.flavor == "datacenter":
            return {"RECONCILE_JIRA_URL": self.url, "RECONCILE_JIRA_PAT": self.token}
        return {
            "RECONCILE_JIRA_URL": self.url,
            "RECONCILE_JIRA_EMAIL": self.email,
            "RECONCILE_JIRA_API_TOKEN": self.token,
        }
