"""Who gets told what: the policy's `[destinations."<route>"]` and `[notify]` tables, validated.

`[routes]` keeps mapping finding kind → route name; destinations say where a route's messages go:

    [notify]
    escalate_after_days = 7                 # connector-level finding still open → escalated CRM Admin → IT Infra
    connector_kinds = ["connector_error", "bounce_hop_lost"]   # which kinds are connector-level
    sprint_ticket = "KLN-35"                # apply exceptions + connector missing-field errors, one comment a run
    top_items = 10                          # items listed in a message (the full list is the attached CSV)
    instance_url = "https://acme.my.salesforce.com"   # for record links [default: SF_INSTANCE_URL]

    [destinations."CRM Admin"]
    email = ["crm.admin@example.com"]
    webhook_env = "RECONCILE_WEBHOOK_CRM_ADMIN"       # the URL holds a token: only the variable's name here
    webhook_format = "teams"                          # slack | teams | google_chat
    jira_project = "KLN"                              # or jira_ticket = "KLN-35": comment there instead

Secrets (SMTP password, Jira token, webhook URLs) are read from the environment only (reconcile/senders.py).
Legal/compliance findings go to the DPO directly: the DPO destination needs e-mail addresses and may not be a
shared channel (a webhook).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import PolicyError

ROUTE_NAMES = ("CRM Admin", "IT Infra", "MARCOM Ops", "DPO")
WEBHOOK_FORMATS = ("slack", "teams", "google_chat")
# connector-level kinds (seed §3.5: CRM Admin → IT Infra): the Clay connector's errors, the Smartlead → Clay hop
CONNECTOR_KINDS = ("connector_error", "bounce_hop_lost")
LEGAL_KINDS = ("do_not_contact_reply",)  # always to the DPO, directly (seed §3.5)
DESTINATION_KEYS = ("email", "webhook_env", "webhook_format", "jira_project", "jira_ticket")
NOTIFY_KEYS = ("escalate_after_days", "connector_kinds", "escalate_to", "sprint_ticket", "top_items", "instance_url")
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
PROJECT = re.compile(r"^[A-Z][A-Z0-9_]{1,9}$")
TICKET = re.compile(r"^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]*$")


@dataclass(frozen=True)
class Destination:
    route: str
    email: tuple[str, ...] = ()
    webhook_env: str | None = None
    webhook_format: str = "slack"
    jira_project: str | None = None
    jira_ticket: str | None = None

    @property
    def channels(self) -> list[str]:
        return [
            c
            for c, on in (
                ("email", self.email),
                ("webhook", self.webhook_env),
                ("jira", self.jira_project or self.jira_ticket),
            )
            if on
        ]


@dataclass(frozen=True)
class NotifySettings:
    destinations: dict[str, Destination] = field(default_factory=dict)
    escalate_after_days: float = 7
    connector_kinds: tuple[str, ...] = CONNECTOR_KINDS
    escalate_to: str = "IT Infra"
    sprint_ticket: str | None = None
    top_items: int = 10
    instance_url: str | None = None


def parse_notify(path: str, destinations: dict, notify: dict) -> NotifySettings:
    where = f"Policy file '{path}' [notify]"
    unknown = sorted(set(notify) - set(NOTIFY_KEYS))
    if unknown:
        raise PolicyError(f"{where}: unknown key '{unknown[0]}'. Known keys: {', '.join(NOTIFY_KEYS)}.")
    days = notify.get("escalate_after_days", 7)
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise PolicyError(f"{where}: escalate_after_days '{days}' is not a positive number of days; e.g. 7.")
    top = notify.get("top_items", 10)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise PolicyError(f"{where}: top_items '{top}' is not a positive whole number; e.g. 10.")
    kinds = notify.get("connector_kinds", list(CONNECTOR_KINDS))
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds):
        raise PolicyError(f'{where}: connector_kinds must be a list of finding kinds, e.g. ["connector_error"].')
    to = notify.get("escalate_to", "IT Infra")
    if to not in ROUTE_NAMES:
        raise PolicyError(f"{where}: escalate_to '{to}' is not one of {', '.join(ROUTE_NAMES)}.")
    ticket = notify.get("sprint_ticket")
    if ticket is not None and not TICKET.match(str(ticket)):
        raise PolicyError(f"{where}: sprint_ticket '{ticket}' is not a Jira issue key like 'KLN-35'.")
    url = notify.get("instance_url")
    if url is not None and not str(url).startswith("https://"):
        raise PolicyError(f"{where}: instance_url '{url}' must start with https:// (your My Domain URL).")
    dests = {name: _destination(path, name, entry) for name, entry in destinations.items()}
    return NotifySettings(
        destinations=dests,
        escalate_after_days=float(days),
        connector_kinds=tuple(kinds),
        escalate_to=to,
        sprint_ticket=ticket,
        top_items=top,
        instance_url=url,
    )


def _destination(path: str, name: str, entry) -> Destination:
    where = f"Policy file '{path}' [destinations.\"{name}\"]"
    if name not in ROUTE_NAMES:
        raise PolicyError(f"{where}: '{name}' is not a route; use one of {', '.join(ROUTE_NAMES)}.")
    if not isinstance(entry, dict):
        raise PolicyError(f"{where}: must be a table with {', '.join(DESTINATION_KEYS)}.")
    unknown = sorted(set(entry) - set(DESTINATION_KEYS))
    if unknown:
        raise PolicyError(f"{where}: unknown key '{unknown[0]}'. Known keys: {', '.join(DESTINATION_KEYS)}.")
    emails = entry.get("email", [])
    emails = [emails] if isinstance(emails, str) else emails
    for e in emails:
        if not isinstance(e, str) or not EMAIL.match(e):
            raise PolicyError(f"{where}: email '{e}' is not an e-mail address like 'crm.admin@example.com'.")
    hook = entry.get("webhook_env")
    if hook is not None and not ENV_NAME.match(str(hook)):
        raise PolicyError(
            f"{where}: webhook_env must name an environment variable (e.g. 'RECONCILE_WEBHOOK_CRM_ADMIN'"
            "), never hold the URL itself: a webhook URL is a secret."
        )
    fmt = entry.get("webhook_format", "slack")
    if fmt not in WEBHOOK_FORMATS:
        raise PolicyError(f"{where}: webhook_format '{fmt}' is not one of {', '.join(WEBHOOK_FORMATS)}.")
    project, ticket = entry.get("jira_project"), entry.get("jira_ticket")
    if project is not None and not PROJECT.match(str(project)):
        raise PolicyError(f"{where}: jira_project '{project}' is not a Jira project key like 'KLN'.")
    if ticket is not None and not TICKET.match(str(ticket)):
        raise PolicyError(f"{where}: jira_ticket '{ticket}' is not a Jira issue key like 'KLN-35'.")
    if project and ticket:
        raise PolicyError(f"{where}: give jira_project (a ticket per run) or jira_ticket (a comment), not both.")
    d = Destination(
        route=name, email=tuple(emails), webhook_env=hook, webhook_format=fmt, jira_project=project, jira_ticket=ticket
    )
    if not d.channels:
        raise PolicyError(f"{where}: no destination; give email, webhook_env or jira_project / jira_ticket.")
    if name == "DPO" and (not d.email or d.webhook_env):
        raise PolicyError(
            f"{where}: legal and compliance findings go to the DPO directly: give the DPO's e-mail "
            "address(es) and no webhook_env (a shared channel)."
        )
    return d
