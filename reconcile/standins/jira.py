"""A Jira-shaped stand-in: the comment, issue, transition, project and search endpoints of Jira Cloud (REST v3 and v2,
ADF bodies, e-mail + API token) and Jira Data Center (REST v2, personal access token), with their real response and
error shapes, auth checked (serverInfo is served anonymously, as Jira does).

Search: Data Center's `GET|POST /rest/api/2/search` (startAt / maxResults / total); Cloud's enhanced search
`GET|POST /rest/api/{2,3}/search/jql` (nextPageToken / isLast) — Cloud removed its `/search` (410 Gone, CHANGE-2046).
The JQL it understands is in jql.py. Issues follow a simplified workflow: To Do → In Progress → Done, any to any.

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

from . import jql
from .http import Served, ServiceHandler, not_found_handler

NOT_FOUND = "Issue does not exist or you do not have permission to see it."
# Jira's answer to a missing or wrong credential on REST resources (HTTP 401, JSON error collection).
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
KEY = re.compile(r"^([A-Z][A-Z0-9_]+)-([0-9]+)$")
ACCOUNT_ID = "712020:5f1c7a9e-3b2d-4c8e-9a61-2d7f0b4e8c13"  # Cloud: an Atlassian account id (shape of /myself's)


def _now() -> str:
    at = datetime.now(timezone.utc)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}+0000"


# The statuses of a simplified workflow (a company-managed project's default) and their categories, as Jira sends
# them in `fields.status`: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-workflow-statuses/
CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
STATUSES = {
    "To Do": {"id": "10000", "name": "To Do", "description": "", "statusCategory": CATEGORIES["new"]},
    "In Progress": {"id": "3", "name": "In Progress", "description": "", "statusCategory": CATEGORIES["indeterminate"]},
    "Done": {"id": "10001", "name": "Done", "description": "", "statusCategory": CATEGORIES["done"]},
}
# global transitions, one to each status (ids as Jira numbers a simplified workflow's)
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
ISSUE_TYPE = {"id": "10002", "name": "Task", "description": "A small, distinct piece of work.", "subtask": False}
# the fields every issue carries (GET issue `fields=*all`); search's default, `*navigable`, is all but `comment`
ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


class JiraState:
    def __init__(self, flavor: str, issues: list[str], email: str, token: str):
        self.flavor, self.email, self.token = flavor, email, token
        self.lock = threading.Lock()
        self.issues: dict[str, dict] = {}
        self.comments: dict[str, list[dict]] = {}
        self.page_tokens: dict[str, int] = {}  # enhanced search's nextPageToken → where the next page starts
        self.faults: list[int] = []
        self.requests: list[dict] = []
        self.ids = itertools.count(10000)
        # the projects: those of the seeded issues, ids as Jira numbers them (a project is named by key or id)
        self.projects = {p: str(n) for n, p in enumerate(dict.fromkeys(k.split("-")[0] for k in issues), 10000)}
        for key in issues:
            self.add_issue(key, f"Sprint ticket {key}")

    def add_issue(self, key: str, summary: str, description=None, labels=(), status: str = "To Do") -> dict:
        project = key.split("-")[0]
        now = _now()
        issue = {
            "id": str(next(self.ids)),
            "key": key,
            "fields": {
                "summary": summary,
                "description": description,
                "project": self.project_json(project),
                "issuetype": dict(ISSUE_TYPE),
                "status": STATUSES[status],
                "labels": list(labels),
                "priority": {"id": "3", "name": "Medium"},
                "assignee": None,
                "reporter": self.user_json(),
                "creator": self.user_json(),
                "resolution": None,
                "resolutiondate": None,
                "created": now,
                "updated": now,
                "statuscategorychangedate": now,
            },
        }
        self.issues[key] = issue
        self.comments[key] = []
        return issue

    def project_json(self, key: str) -> dict:
        # the project as an issue's `fields.project` and GET project carry it
        return {
            "id": self.projects.get(key),
            "key": key,
            "name": f"{key} project",
            "projectTypeKey": "software",
            "simplified": False,
        }

    def user_json(self) -> dict:
        """The integration user as Jira shows a user (/myself, a comment's author): Cloud identifies it by accountId,
        Data Center by name and key — how a client recognises its own comments."""
        user = {"emailAddress": self.email, "displayName": "Reconcile integration", "active": True}
        ids = {"accountId": ACCOUNT_ID} if self.flavor == "cloud" else {"name": "reconcile", "key": "JIRAUSER10000"}
        return {**ids, **user}

    def set_status(self, key: str, status: str) -> None:
        fields = self.issues[key]["fields"]
        now = _now()
        if fields["status"]["statusCategory"] != STATUSES[status]["statusCategory"]:
            fields["statuscategorychangedate"] = now
        fields["status"] = STATUSES[status]
        done = status == "Done"
        fields["resolution"] = {"id": "10000", "name": "Done"} if done else None
        fields["resolutiondate"] = now if done else None
        fields["updated"] = now

    def check_clause(self, clause: jql.Clause) -> None:
        """Refuse, as Jira does (400), a JQL value naming no project, status or issue that exists."""
        values = [v for v in clause.values if v is not None]
        for v in values:
            if clause.field == "project" and not any(
                v.lower() in (k.lower(), pid, f"{k} project".lower()) for k, pid in self.projects.items()
            ):
                raise jql.JqlError(f"The value '{v}' does not exist for the field 'project'.")
            if clause.field == "status" and not any(
                v.lower() in (s["name"].lower(), s["id"]) for s in STATUSES.values()
            ):
                raise jql.JqlError(f"The value '{v}' does not exist for the field 'status'.")
            if clause.field in ("key", "id"):
                if not (KEY.match(v.upper()) or v.isdigit()):
                    raise jql.JqlError(f"The issue key '{v}' for field '{clause.field}' is invalid.")
                if self.key_of(v.upper()) is None and clause.op in ("=", "in"):
                    raise jql.JqlError(f"An issue with key '{v}' does not exist for field '{clause.field}'.")

    def search(self, query: str) -> list[dict]:
        """The issues JQL `query` matches, in its order; JqlError for what Jira answers 400."""
        parsed = jql.parse(query)
        with self.lock:
            return jql.run(parsed, list(self.issues.values()), self.check_clause)

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

    def issue_json(self, issue: dict, fields, default: str = "*all") -> dict:
        """`issue` as GET issue and search send it, with the fields `fields` names (a list of names, `*all`,
        `*navigable`, `-name` to leave one out; unknown names ignored, as Jira does):
        https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
        """
        comments = self.state.comments[issue["key"]]
        everything = {
            **issue["fields"],
            "comment": {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0},
        }
        names = [n.strip() for spec in (fields or []) for n in str(spec).split(",") if n.strip()] or [default]
        wanted: set[str] = set()
        if not any(not n.startswith("-") for n in names):
            names = [default, *names]
        for n in names:
            if n == "*all":
                wanted |= set(everything)
            elif n == "*navigable":
                wanted |= set(everything) - {"comment"}
            elif not n.startswith("-"):
                wanted.add(n)
        wanted -= {n[1:] for n in names if n.startswith("-")}
        return {
            "expand": ISSUE_EXPAND,
            "id": issue["id"],
            "self": f"{self.base()}/issue/{issue['id']}",
            "key": issue["key"],
            "fields": {k: v for k, v in everything.items() if k in wanted},
        }

    def field_args(self) -> list[str] | None:
        """The `fields` query parameter(s), comma lists or repeated, None when not given."""
        given = self.get_query_arguments("fields")
        return [n for g in given for n in g.split(",")] if given else None


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
            author = st.user_json()
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
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) and x and " " not in x for x in labels):
            errors["labels"] = "The label must not contain spaces."  # Jira's rule for a label
        if errors:
            return self.error(400, [], errors)
        with self.state.lock:
            issue = self.state.add_issue(self.state.next_key(project), fields["summary"], desc, labels)
        self.set_status(201)
        self.finish({"id": issue["id"], "key": issue["key"], "self": f"{self.base()}/issue/{issue['id']}"})


class IssueHandler(Base):
    # "Get issue": GET …/issue/{issueIdOrKey}
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
    # `fields=a,b` (or repeated) picks the fields sent, default `*all`
    def get(self, version, key):
        issue = self.state.issues.get(self.state.key_of(key) or "")
        if issue is None:
            return self.error(404, [NOT_FOUND])
        with self.state.lock:
            self.finish(self.issue_json(issue, self.field_args()))

    head = get  # JAX-RS HEAD, as on CommentHandler


class MyselfHandler(Base):
    # "Get current user": GET /rest/api/{2,3}/myself — how a client checks its credentials
    def get(self, version):
        st = self.state
        self.finish(st.user_json())

    head = get  # JAX-RS HEAD, as on CommentHandler


class ServerInfoHandler(Base):
    # "Get Jira instance info": GET /rest/api/{2,3}/serverInfo — what a client library reads first (the `jira`
    # package's constructor does), to learn the deployment type and version. "This operation can be accessed
    # anonymously": no Authorization header is needed (one that is wrong is still refused, 401, as everywhere)
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-server-info/#api-rest-api-3-serverinfo-get
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-serverinfo/#api-api-2-serverinfo-get
    def _authorized(self) -> bool:
        return not self.request.headers.get("Authorization") or super()._authorized()

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


class TransitionsHandler(Base):
    # "Get transitions": GET …/issue/{issueIdOrKey}/transitions → {"expand", "transitions": [{id, name, to: status}]}
    # "Transition issue": POST …/issue/{issueIdOrKey}/transitions {"transition": {"id": …}} → 204, the status moved;
    # an id that is no transition of the issue → 400
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-post
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-issue/#api-api-2-issue-issueidorkey-transitions-get
    def available(self, key: str) -> list[dict]:
        current = self.state.issues[key]["fields"]["status"]["name"]
        return [
            {
                "id": tid,
                "name": to,
                "to": STATUSES[to],
                "hasScreen": False,
                "isGlobal": True,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for tid, to in TRANSITIONS.items()
            if to != current
        ]

    def get(self, version, key):
        key = self.state.key_of(key)
        if key is None:
            return self.error(404, [NOT_FOUND])
        only = self.get_query_argument("transitionId", None)
        with self.state.lock:
            found = [t for t in self.available(key) if only is None or t["id"] == only]
        self.finish({"expand": "transitions", "transitions": found})

    def post(self, version, key):
        key = self.state.key_of(key)
        if key is None:
            return self.error(404, [NOT_FOUND])
        doc = self.body_json()
        if doc is None:
            return
        transition = doc.get("transition") if isinstance(doc, dict) else None
        tid = str(transition.get("id") or "") if isinstance(transition, dict) else ""
        if not tid:
            return self.error(400, ["Missing 'transition' identifier"])
        with self.state.lock:
            if tid not in {t["id"] for t in self.available(key)}:
                return self.error(400, [f"Transition id '{tid}' is not valid for this issue."])
            self.state.set_status(key, TRANSITIONS[tid])
        self.set_status(204)
        self.finish()

    head = get  # JAX-RS HEAD, as on CommentHandler


class ProjectHandler(Base):
    # "Get project": GET /rest/api/{2,3}/project/{projectIdOrKey}; unknown → 404 "No project could be found with
    # key '…'."
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/#api-rest-api-3-project-projectidorkey-get
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-project/#api-api-2-project-projectidorkey-get
    def get(self, version, ref):
        st = self.state
        key = ref if ref in st.projects else {v: k for k, v in st.projects.items()}.get(ref)
        if key is None:
            return self.error(404, [f"No project could be found with key '{ref}'."])
        self.finish(
            {
                "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                "self": f"{self.base()}/project/{st.projects[key]}",
                **st.project_json(key),
                "description": "",
                "lead": st.user_json(),
                "issueTypes": [dict(ISSUE_TYPE)],
                "assigneeType": "UNASSIGNED",
                "style": "classic",
                "isPrivate": False,
                "archived": False,
            }
        )

    head = get  # JAX-RS HEAD, as on CommentHandler


def _whole(value, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
        raise jql.JqlError(f"The value '{value}' is not valid for the parameter '{name}'.")
    return int(value)


class SearchBase(Base):
    def query_doc(self) -> dict | None:
        """The search's parameters: the query string (GET) or the JSON body (POST); None when answered (400)."""
        if self.request.method == "POST":
            doc = self.body_json()
            if doc is None:
                return None
            if not isinstance(doc, dict):
                self.error(400, ["The request body must be a JSON object."])
                return None
            return doc
        doc = {k: self.get_query_argument(k) for k in self.request.query_arguments if k != "fields"}
        if self.field_args() is not None:
            doc["fields"] = self.field_args()
        return doc

    def fields_of(self, doc: dict):
        fields = doc.get("fields")
        return [fields] if isinstance(fields, str) else fields

    def matches(self, doc: dict) -> list[dict] | None:
        try:
            return self.state.search(str(doc.get("jql") or ""))
        except jql.JqlError as e:
            self.error(400, [str(e)])
            return None


class SearchHandler(SearchBase):
    # Data Center "Search for issues using JQL": GET /rest/api/2/search?jql=&startAt=&maxResults=&fields= and
    # POST /rest/api/2/search {"jql", "startAt", "maxResults", "fields": [...]} → {"expand", "startAt",
    # "maxResults", "total", "issues"}; maxResults defaults to 50 (at most 1000), fields to `*navigable`; a JQL
    # Jira cannot parse or whose values do not exist → 400 with the error collection
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-search/#api-api-2-search-get
    #   https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-search/#api-api-2-search-post
    # Cloud removed GET|POST /rest/api/{2,3}/search (CHANGE-2046, 2025): it answers 410 Gone, pointing to
    # /search/jql — https://developer.atlassian.com/changelog/#CHANGE-2046
    def handle(self, version):
        if self.state.flavor == "cloud":
            return self.error(
                410,
                [
                    f"The requested API has been removed. Please migrate to the /rest/api/{version}/search/jql API. "
                    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
                ],
            )
        doc = self.query_doc()
        if doc is None:
            return
        try:
            start = _whole(doc.get("startAt"), "startAt", 0)
            size = min(max(_whole(doc.get("maxResults"), "maxResults", 50), 0), 1000)
        except jql.JqlError as e:
            return self.error(400, [str(e)])
        hits = self.matches(doc)
        if hits is None:
            return
        start = max(start, 0)
        with self.state.lock:
            page = [self.issue_json(i, self.fields_of(doc), "*navigable") for i in hits[start : start + size]]
        self.finish(
            {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(hits), "issues": page}
        )

    def get(self, version):
        return self.handle(version)

    def post(self, version):
        return self.handle(version)


class EnhancedSearchHandler(SearchBase):
    # Cloud "Search for issues using JQL enhanced search": GET /rest/api/{2,3}/search/jql?jql=&nextPageToken=&
    # maxResults=&fields= and POST with {"jql", "nextPageToken", "maxResults", "fields": [...]} →
    # {"issues", "nextPageToken" (absent on the last page), "isLast"}. Only issue ids come back unless `fields`
    # names some; maxResults defaults to 50; a query without a search restriction (empty, or only ORDER BY) → 400.
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-post
    # Data Center has no enhanced search: 404 there.
    def handle(self, version):
        if self.state.flavor != "cloud":
            raise tornado.web.HTTPError(404)
        doc = self.query_doc()
        if doc is None:
            return
        try:
            size = _whole(doc.get("maxResults"), "maxResults", 50)
            query = jql.parse(str(doc.get("jql") or ""))
        except jql.JqlError as e:
            return self.error(400, [str(e)])
        if query.where is None:
            return self.error(
                400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."]
            )
        size = min(max(size, 1), 5000)
        token = str(doc.get("nextPageToken") or "")
        start = 0
        if token:
            with self.state.lock:
                start = self.state.page_tokens.get(token, -1)
            if start < 0:
                return self.error(400, ["The provided next page token is invalid or expired."])
        hits = self.matches(doc)
        if hits is None:
            return
        fields = self.fields_of(doc)
        with self.state.lock:
            page = [
                self.issue_json(i, fields, "*navigable") if fields else {"id": i["id"]}
                for i in hits[start : start + size]
            ]
            body: dict = {"issues": page}
            if start + size < len(hits):
                body["nextPageToken"] = secrets.token_urlsafe(24)
                self.state.page_tokens[body["nextPageToken"]] = start + size
        body["isLast"] = "nextPageToken" not in body
        self.finish(body)

    def get(self, version):
        return self.handle(version)

    def post(self, version):
        return self.handle(version)


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
                (r"/rest/api/(?P<version>[23])/issue/(?P<key>[^/]+)/transitions", TransitionsHandler, kw),
                (r"/rest/api/(?P<version>[23])/project/(?P<ref>[^/]+)", ProjectHandler, kw),
                (r"/rest/api/(?P<version>[23])/search", SearchHandler, kw),
                (r"/rest/api/(?P<version>[23])/search/jql", EnhancedSearchHandler, kw),
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

    def add_issue(self, key: str, summary: str, labels=(), status: str = "To Do", description=None) -> dict:
        """An issue that exists (its project too), e.g. for a search to find."""
        with self.state.lock:
            self.state.projects.setdefault(key.split("-")[0], str(10000 + len(self.state.projects)))
            return self.state.add_issue(key, summary, description, labels, status)

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
