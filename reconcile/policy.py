"""The policy file: field allowlist, statuses, picklists, Clay column mapping, thresholds, routes.

Everything configurable lives here; nothing else reads the TOML.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .ingest.contract import CLAY_COLUMNS, CLAY_KEYS
from .errors import PolicyError, read_toml, toml_value

if TYPE_CHECKING:
    from .destinations import NotifySettings

STATUSES = ("active", "pending_legal", "read_only")
KINDS = ("checkbox", "text", "picklist", "formula")
ROUTES = ("CRM Admin", "IT Infra", "MARCOM Ops", "DPO")
WRITABLE_OBJECTS = ("Lead", "CampaignMember")
OBJECTS = (
    "Lead",
    "CampaignMember",
    "Contact",
    "Campaign",
)  # the snapshot's objects (SPEC §2), as Salesforce spells them
# The policy's tables; any other top-level key is a typo ([threshold]) whose settings would be silently unused.
TABLES = (
    "org",
    "thresholds",
    "sources",
    "formulas",
    "fields",
    "approvers",
    "clay",
    "source_values",
    "routes",
    "destinations",
    "notify",
)
# [source_values]: what a few source values mean to the rules (bound into the SQL as $value_<key>, compared
# case-insensitively): a reply category, another reply category, and Clay's Email Validation verdict.
SOURCE_VALUE_KEYS = ("sender_originated_bounce", "do_not_contact", "email_invalid")
BLOCKED_REASONS = (
    "not_in_allowlist",
    "read_only",
    "object_not_writable",
    "org_field_not_updateable",
    "pending_legal",
    "converted_lead",
    "invalid_picklist_value",
    "too_long",
    "overwrite_not_approved",
)


@dataclass(frozen=True)
class FieldPolicy:
    object: str
    field: str
    status: str
    kind: str
    rule: str | None = None
    max_length: int | None = None
    picklist: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.object}.{self.field}"


@dataclass(frozen=True)
class Approver:
    name: str
    email: str


@dataclass(frozen=True)
class Thresholds:
    max_ready_changes_per_field: int = 5000
    max_record_fraction: float = 0.25
    min_records_for_fraction: int = 50
    max_snapshot_age_hours: float = 48
    bulk_threshold: int = 2000


@dataclass(frozen=True)
class SourcePolicy:
    """Whether a source must be in the snapshot and how far behind Salesforce's taken_at it may be (hours)."""

    required: bool = False
    max_age_hours: float | None = None
    on_problem: str = "warn"  # missing (optional) or stale: "warn" (banner + plan output) or "error" (no plan)
    campaigns: tuple[int, ...] = ()  # [sources.smartlead] only: campaign ids `pull` takes (empty: every campaign)
    drop_dir: str = ""  # [sources.clay] only: the Clay drop folder (relative to the policy file)


SOURCE_DEFAULTS = {
    "sfdc": SourcePolicy(required=True, on_problem="error"),
    "clay": SourcePolicy(max_age_hours=24),
    "smartlead": SourcePolicy(max_age_hours=24),
    "pardot": SourcePolicy(max_age_hours=24),
}


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # TOML true/false are Python bools, and bools are ints


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# What a policy key may hold: a check and the words of the error when it fails. KEY_TYPES gives every key of each
# table of the policy its kind; _check applies it (a key not listed is misspelt or misplaced: also an error).
COUNT = (lambda v: _whole(v) and v >= 0, "a whole number, 0 or more")
POSITIVE = (lambda v: _whole(v) and v > 0, "a whole number greater than 0")
FRACTION = (lambda v: _number(v) and 0 <= v <= 1, "a number between 0 and 1")
HOURS = (lambda v: _number(v) and v > 0, "a number of hours greater than 0")
BOOLEAN = (lambda v: isinstance(v, bool), "true or false (without quotes)")
TEXT = (lambda v: isinstance(v, str), "text in quotes")
TEXTS = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of text values in quotes")
CAMPAIGN_IDS = (
    lambda v: isinstance(v, list) and all(_whole(c) and c > 0 for c in v),
    "a list of Smartlead campaign ids (numbers, e.g. campaigns = [9181, 9204])",
)
ON_PROBLEM = (lambda v: v in ("warn", "error"), '"warn" or "error"')
KEY_TYPES = {
    "thresholds": {
        "max_ready_changes_per_field": COUNT,  # 0: every ready change is gated
        "max_record_fraction": FRACTION,
        "min_records_for_fraction": COUNT,
        "max_snapshot_age_hours": HOURS,
        "bulk_threshold": COUNT,  # 0: every record goes through Bulk API 2.0
    },
    "sources": {
        "required": BOOLEAN,
        "max_age_hours": HOURS,
        "on_problem": ON_PROBLEM,
        "campaigns": CAMPAIGN_IDS,
        "drop_dir": TEXT,
    },
    "fields": {
        "object": TEXT,
        "field": TEXT,
        "status": TEXT,
        "kind": TEXT,
        "rule": TEXT,
        "max_length": POSITIVE,
        "picklist": TEXTS,
        "direction": TEXT,  # documents the data flow for people reading the policy; no code reads it
    },
    "org": {"name": TEXT, "role": TEXT, "gbus": TEXTS, "bypass_permission": TEXT, "gbu_access_field": TEXT},
    "approvers": {"name": TEXT, "email": TEXT},
    "clay": {"columns": (lambda v: isinstance(v, dict), "a [clay.columns] table")},
    "formulas": {"cold_lead_eligible": TEXT},
}


@dataclass(frozen=True)
class Policy:
    path: str
    fingerprint: str
    org_name: str
    role: str
    gbus: tuple[str, ...]
    fields: tuple[FieldPolicy, ...]
    clay_columns: dict[str, str]
    routes: dict[str, str]
    thresholds: Thresholds
    formulas: dict[str, str] = field(default_factory=dict)
    sources: dict[str, SourcePolicy] = field(default_factory=lambda: dict(SOURCE_DEFAULTS))
    approvers: tuple[Approver, ...] = ()
    notify: "NotifySettings | None" = None  # [destinations.*] and [notify] (reconcile/destinations.py)
    bypass_permission: str = "Bypass_Validation_Rules"  # [org] bypass_permission: the org's validation bypass
    source_values: dict[str, str] = field(default_factory=dict)  # [source_values], defaults from the packaged policy
    gbu_access_field: str = "Visible_GBUs__c"  # [org] gbu_access_field: the User field stating the user's GBUs

    def approver(self, name: str) -> Approver | None:
        """The policy's approver of that name (case and surrounding spaces ignored), or None."""
        wanted = " ".join(name.split()).casefold()
        return next((a for a in self.approvers if a.name.casefold() == wanted), None)

    def field_policy(self, obj: str, name: str) -> FieldPolicy | None:
        for f in self.fields:
            if f.object == obj and f.field.lower() == name.lower():
                return f
        return None


def default_policy_path() -> Path:
    return Path(__file__).resolve().parent / "default_policy.toml"


# An org's name: it names its policy file (policies/<org>.toml) and its variables (SF_<ORG>_…).
ORG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def policy_path(path: str | Path | None = None, org: str | None = None) -> Path | None:
    """The policy file to use: --policy if given, else the org's (policies/<org>.toml, or in $RECONCILE_POLICY_DIR),
    else None (the packaged default). One integration user and one policy per CRM system (seed §3.1)."""
    if path or not org:
        return Path(path) if path else None
    folder = Path(os.environ.get("RECONCILE_POLICY_DIR", "policies"))
    candidate = folder / f"{org.lower()}.toml"
    if not candidate.exists():
        known = sorted(p.stem.upper() for p in folder.glob("*.toml") if ORG_NAME.fullmatch(p.stem))
        raise PolicyError(
            f"No policy for org '{org}': '{candidate}' does not exist (known orgs: {', '.join(known) or 'none'}, "
            f"the policies in '{folder}'). Name one of them, or copy the packaged default "
            f"('{default_policy_path()}') there and edit it, or pass --policy FILE."
        )
    return candidate


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy TOML file (the packaged default when `path` is None)."""
    p = Path(path) if path else default_policy_path()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise PolicyError(f"Policy file '{p}' cannot be read ({e.strerror}). Pass an existing file to --policy.") from e
    doc = read_toml(raw, f"Policy file '{p}'", PolicyError, "Fix the syntax and rerun.")
    return _parse(doc, str(p), "sha256:" + hashlib.sha256(raw).hexdigest())


def _parse(doc: dict, path: str, fingerprint: str) -> Policy:
    for key, value in doc.items():
        if key not in TABLES:
            raise PolicyError(
                f"Policy file '{path}' {key} = {toml_value(value)}: not a table of the policy; use one of "
                f"{', '.join(TABLES)}. Fix the name in the policy file."
            )
    fields = tuple(_parse_field(path, i, f) for i, f in enumerate(_entries(path, doc, "fields"), start=1))
    if not fields:  # an empty file, or one that lost its allowlist: every change would be blocked, in silence
        raise PolicyError(
            f"Policy file '{path}' lists no [[fields]] (the allowlist of fields the connector may write). Start from "
            "the packaged policy (reconcile/default_policy.toml) and change what differs in your org."
        )
    seen = {}
    for i, f in enumerate(fields, start=1):
        # Salesforce field names are case-insensitive, and so are the plan's gate and apply's policy lookup
        first = seen.setdefault((f.object, f.field.lower()), (i, f))
        if first[0] != i:
            raise PolicyError(
                f"Policy file '{path}' [[fields]] entry {i} ({f.key}) field = {toml_value(f.field)}: "
                f"{first[1].key} is listed twice, as entry {first[0]} and entry {i} (field names match "
                "case-insensitively, as in Salesforce). Keep one [[fields]] entry per field."
            )
    _check_rules(path, fields)
    clay_table = _check(path, "[clay]", "clay", _table(path, doc, "clay"))
    columns = _table(path, clay_table, "columns", "clay.columns")
    for key, value in columns.items():
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(
                f"Policy file '{path}' [clay.columns] {key} = {toml_value(value)}: expected the Clay column's header "
                "in quotes. Fix the value in the policy file."
            )
    clay = dict(_default_clay_columns())
    clay.update(columns)
    unknown = sorted(set(clay) - set(CLAY_KEYS))
    if unknown:
        raise PolicyError(
            f"Policy file '{path}': unknown Clay column key '{unknown[0]}' in [clay.columns]. "
            f"Known keys: {', '.join(CLAY_KEYS)}."
        )
    named: dict[str, str] = {}
    defaults = _default_clay_columns()
    for key in CLAY_KEYS:  # headers match case-insensitively: two keys on one header would read each other's values
        other = named.setdefault(clay[key].strip().lower(), key)
        if other != key:  # named after the key moved off its default name (the edit), else the later one
            mine, theirs = (other, key) if clay[other] != defaults.get(other) else (key, other)
            raise PolicyError(
                f"Policy file '{path}' [clay.columns] {mine} = {toml_value(clay[mine])}: the same Clay column as "
                f"{theirs} ({toml_value(clay[theirs])}; headers match "
                "case-insensitively), so one column would be read as both. Give each Clay column its own header in "
                "the policy file."
            )
    values = {**_default_section("source_values"), **doc.get("source_values", {})}
    unknown = sorted(
        k for k, v in values.items() if k not in SOURCE_VALUE_KEYS or not isinstance(v, str) or not v.strip()
    )
    if unknown:
        raise PolicyError(
            f"Policy file '{path}': [source_values] entry '{unknown[0]}' is not one of "
            f"{', '.join(SOURCE_VALUE_KEYS)} with a non-blank text value."
        )
    routes = dict(doc.get("routes", {}))
    from .sql import FINDING_KINDS  # sql/findings/find_<kind>.sql

    for kind, route in routes.items():
        if kind not in FINDING_KINDS:  # a misspelt kind would leave the real one unrouted
            raise PolicyError(
                f"Policy file '{path}' [routes] {kind} = {toml_value(route)}: not a finding kind; use one of "
                f"{', '.join(sorted(FINDING_KINDS))}. Fix the name in the policy file."
            )
        if route not in ROUTES:
            raise PolicyError(
                f"Policy file '{path}': route '{route}' for finding '{kind}' is not one of {', '.join(ROUTES)}."
            )
    org = _check(path, "[org]", "org", _table(path, doc, "org"))
    thresholds = Thresholds(**_check(path, "[thresholds]", "thresholds", _table(path, doc, "thresholds")))
    from .destinations import parse_notify  # who gets told what: [destinations."<route>"] and [notify]

    return Policy(
        path=path,
        fingerprint=fingerprint,
        org_name=str(org.get("name", "default")),
        role=str(org.get("role", "")),
        gbus=tuple(org.get("gbus", [])),
        fields=fields,
        bypass_permission=str(org.get("bypass_permission", "Bypass_Validation_Rules")),
        gbu_access_field=str(org.get("gbu_access_field", "Visible_GBUs__c")),
        clay_columns=clay,
        source_values=values,
        routes=routes,
        thresholds=thresholds,
        formulas=dict(_check(path, "[formulas]", "formulas", _table(path, doc, "formulas"))),
        sources=_parse_sources(path, _table(path, doc, "sources")),
        approvers=_parse_approvers(path, _entries(path, doc, "approvers")),
        notify=parse_notify(path, doc.get("destinations", {}), doc.get("notify", {})),
    )


def _check(path: str, where: str, kind: str, entry: dict) -> dict:
    """`entry` (one table of the policy, at `where`) holds only keys KEY_TYPES[kind] lists, each of its type."""
    types = KEY_TYPES[kind]
    for key, value in entry.items():
        shown = f"Policy file '{path}' {where} {key} = {toml_value(value)}"
        if key not in types:
            label = f"[[{kind}]]" if kind in ("fields", "approvers") else where
            raise PolicyError(
                f"{shown}: not a key of {label}; use one of {', '.join(types)}. Fix the name in the policy file."
            )
        ok, expected = types[key]
        if not ok(value):
            raise PolicyError(f"{shown}: expected {expected}. Fix the value in the policy file.")
    return entry


def _table(path: str, doc: dict, name: str, label: str = "") -> dict:
    value, label = doc.get(name, {}), label or name
    if not isinstance(value, dict):
        raise PolicyError(
            f"Policy file '{path}': {label} = {toml_value(value)}: expected a [{label}] table (a [{label}] line "
            "with key = value lines below it). Fix it in the policy file."
        )
    return value


def _entries(path: str, doc: dict, name: str) -> list:
    value = doc.get(name, [])
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise PolicyError(
            f"Policy file '{path}': {name} = {toml_value(value)}: expected [[{name}]] entries (a [[{name}]] line "
            "before each entry's key = value lines). Fix it in the policy file."
        )
    return value


def _parse_sources(path: str, doc: dict) -> dict[str, SourcePolicy]:
    out = dict(SOURCE_DEFAULTS)
    for name, entry in doc.items():
        where = f"Policy file '{path}' [sources.{name}]"
        if name not in SOURCE_DEFAULTS:
            raise PolicyError(f"{where}: '{name}' is not a source; use one of {', '.join(SOURCE_DEFAULTS)}.")
        entry = _check(path, f"[sources.{name}]", "sources", _table(path, doc, name, f"sources.{name}"))
        only = {"campaigns": "smartlead", "drop_dir": "clay"}
        for key, owner in only.items():
            if key in entry and name != owner:
                raise PolicyError(f"{where}: '{key}' belongs under [sources.{owner}].")
        campaigns = entry.get("campaigns", [])
        drop = str(Path(entry["drop_dir"]).expanduser()) if entry.get("drop_dir") else ""
        if drop and not Path(drop).is_absolute():
            drop = str(Path(path).parent / drop)  # relative to the policy file, like [formulas]
        merged = {**SOURCE_DEFAULTS[name].__dict__, **entry, "campaigns": tuple(campaigns), "drop_dir": drop}
        sp = SourcePolicy(**merged)
        if name == "sfdc" and not sp.required:
            raise PolicyError(f"{where}: Salesforce is always required (it is what the plan reconciles against).")
        out[name] = sp
    return out


def _parse_approvers(path: str, entries: list) -> tuple[Approver, ...]:
    out, seen = [], set()
    for i, a in enumerate(entries, start=1):
        _check(path, f"[[approvers]] entry {i}", "approvers", a)
        name, email = " ".join(str(a.get("name", "")).split()), str(a.get("email", "")).strip()
        if not name or "@" not in email:
            raise PolicyError(
                f"Policy file '{path}' [[approvers]] entry {i}: every approver needs a name and an email address."
            )
        if name.casefold() in seen:
            raise PolicyError(f"Policy file '{path}': approver '{name}' is listed twice. Keep one entry per person.")
        seen.add(name.casefold())
        out.append(Approver(name=name, email=email))
    return tuple(out)


def _parse_field(path: str, index: int, f: dict) -> FieldPolicy:
    named = (
        f" ({f['object']}.{f['field']})" if isinstance(f.get("object"), str) and isinstance(f.get("field"), str) else ""
    )
    entry = f"[[fields]] entry {index}{named}"
    _check(path, entry, "fields", f)
    where = f"Policy file '{path}' [[fields]] entry {index}"
    for key in ("object", "field", "status", "kind"):
        if not f.get(key):
            raise PolicyError(f"{where}: '{key}' is missing. Every field needs object, field, status and kind.")

    def bad(key: str, expected: str) -> PolicyError:
        return PolicyError(
            f"Policy file '{path}' {entry} {key} = {toml_value(f[key])}: expected {expected}. "
            "Fix the value in the policy file."
        )

    from .sql import RULES  # sql/rules/rule_<rule>.sql; a misspelt rule would also switch off apply's invariant

    if f["object"] not in OBJECTS:
        raise bad("object", f"one of {', '.join(OBJECTS)} (as Salesforce spells them)")
    if f["status"] not in STATUSES:
        raise bad("status", f"one of {', '.join(STATUSES)}")
    if f["kind"] not in KINDS:
        raise bad("kind", f"one of {', '.join(KINDS)}")
    if "rule" in f and f["rule"] not in RULES:
        raise bad("rule", f"one of {', '.join(RULES)}")
    if f["kind"] == "formula" and f["status"] != "read_only":
        raise PolicyError(f"{where}: '{f['object']}.{f['field']}' is a formula, so its status must be 'read_only'.")
    picklist = f.get("picklist")
    if picklist is not None and f["kind"] != "picklist":
        raise bad("picklist", f'no picklist on a {f["kind"]} field (only kind = "picklist" has one)')
    if f["kind"] == "picklist" and not picklist:
        raise bad("kind", "a picklist = [...] of its values (a picklist field without them would take any value)")
    spelt = {}
    for value in picklist or ():
        if not value.strip():
            raise bad("picklist", "non-blank values")
        first = spelt.setdefault(value.strip().casefold(), value)  # matched case-insensitively, spaces ignored
        if first is not value:
            raise bad(
                "picklist",
                f"every value once (values match case-insensitively): {toml_value(value)} repeats {toml_value(first)}",
            )
    return FieldPolicy(
        object=f["object"],
        field=f["field"],
        status=f["status"],
        kind=f["kind"],
        rule=f.get("rule"),
        max_length=f.get("max_length"),
        picklist=tuple(picklist or ()),
    )


def _check_rules(path: str, fields: tuple[FieldPolicy, ...]) -> None:
    """Each field's `rule` is the rule that writes it (sql/rules headers, sql.rule_fields), given on those fields and
    on no other: apply's invariants (set-once, union, fill-if-blank) follow the policy's `rule`, so a field with
    another rule's name, or none, would be re-checked by the wrong invariant. API names compare case-insensitively."""
    from .sql import rule_fields

    writers = {(o, n.casefold()): rule for rule, written in rule_fields().items() for o, n in written}
    for i, f in enumerate(fields, start=1):
        writer = writers.get((f.object, f.field.casefold()))
        if f.rule is not None and f.rule != writer:
            expected = f'"{writer}", the rule that writes it' if writer else "no rule (no rule writes this field)"
            raise PolicyError(
                f"Policy file '{path}' [[fields]] entry {i} ({f.object}.{f.field}) rule = {toml_value(f.rule)}: "
                f"expected {expected}. Fix the value in the policy file."
            )
        if writer and f.rule is None:
            raise PolicyError(
                f"Policy file '{path}' [[fields]] entry {i}: 'rule' is missing. {f.object}.{f.field} is written by "
                f'rule {writer}: add rule = "{writer}".'
            )


def _default_clay_columns() -> dict[str, str]:
    return {c.name: c.header for c in CLAY_COLUMNS}


def _default_section(name: str) -> dict[str, str]:
    return tomllib.loads(default_policy_path().read_text("utf-8"))[name]
