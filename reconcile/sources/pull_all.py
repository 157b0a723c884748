"""`reconcile pull --sources sfdc,smartlead,pardot,clay`: one complete snapshot, manifest.toml taken_at per source.

Each source is pulled in turn (Salesforce first: its login also gives Account Engagement its OAuth token); a source
that fails stops the pull with its `Error:` line, and what was already written stays (rerun to complete it).
manifest.toml gets `[taken_at] <source> = …` and `[pulled.<source>] files, records, api_requests` for every source
pulled, keeping what else it says; the plan's summary.inputs.sources shows api_requests from there.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from ..errors import PullError
from ..files import write_atomic
from .smartlead import SourcePull, now_utc

ALL = ("sfdc", "smartlead", "pardot", "clay")


def parse_sources(text: str, origin: str = "--sources") -> list[str]:
    """The source names of `text` ('all' or comma-separated); `origin` names where the text came from."""
    names = [s.strip().lower() for s in (text or "").split(",") if s.strip()]
    if names == ["all"]:
        return list(ALL)
    bad = [n for n in names if n not in ALL]
    if bad or not names:
        raise PullError(
            f"{origin + ' ' if origin else ''}'{text}': unknown source '{bad[0] if bad else ''}'; name one or more "
            f"of {', '.join(ALL)} separated by commas (or 'all')."
        )
    return [s for s in ALL if s in names]


def pull_sources(
    out_dir: str | Path,
    sources,
    connect_sf=None,
    env=None,
    campaigns=None,
    clay_dir=None,
    spool=None,
    policy=None,
    progress=None,
    taken_at: str | None = None,
    bulk_threshold=None,
) -> list[SourcePull]:
    """Pull every named source into OUT; returns one SourcePull per source, in order.

    `connect_sf()` returns a logged-in salesforce.Client (needed for sfdc and for pardot's token)."""
    out = Path(out_dir)  # created by the first file written: a refused login leaves nothing behind
    campaigns, clay_dir = _defaults(policy, env, campaigns, clay_dir)
    results: list[SourcePull] = []
    sf = None
    for system in sources:
        if system in ("sfdc", "pardot") and sf is None:
            if connect_sf is None:
                raise PullError(
                    f"Pulling {system} needs a Salesforce login: set the SF_* variables (README "
                    "'Connecting to your org')."
                )
            sf = connect_sf()
        if progress:
            progress(f"{system}: pulling")
        results.append(
            _pull_one(system, out, sf, env, campaigns, clay_dir, spool, policy, progress, taken_at, bulk_threshold)
        )
        _stamp(out / "manifest.toml", results[-1])
    return results


def _defaults(policy, env, campaigns, clay_dir):
    """Smartlead campaigns: the ones named, else the policy's [sources.smartlead] campaigns, else every campaign.
    Clay drop folder: the one named, else RECONCILE_CLAY_DIR, else the policy's [sources.clay] drop_dir."""
    from ..policy import load_policy

    rules = load_policy(policy).sources
    env = os.environ if env is None else env
    return (
        list(campaigns or ()) or list(rules["smartlead"].campaigns) or None,
        clay_dir or env.get("RECONCILE_CLAY_DIR") or rules["clay"].drop_dir or None,
    )


def _pull_one(system, out, sf, env, campaigns, clay_dir, spool, policy, progress, taken_at, bulk_threshold):
    if system == "sfdc":
        from ..pull import BULK_THRESHOLD, pull_snapshot

        before, taken = sf.requests_made, taken_at or now_utc()
        counts = pull_snapshot(
            out, sf, bulk_threshold=bulk_threshold or BULK_THRESHOLD, progress=progress, taken_at=taken
        )
        return SourcePull(
            "sfdc",
            files=[f"sfdc/{o}.csv" for o in counts],
            records=sum(counts.values()),
            requests=sf.requests_made - before,
            taken_at=taken,
            counts=counts,
        )
    if system == "smartlead":
        from .smartlead import pull_smartlead

        result = pull_smartlead(out, env=env, campaigns=campaigns, progress=progress, taken_at=taken_at)
        if spool:
            from .webhook import copy_events

            copy_events(spool, out, result, progress=progress)
        return result
    if system == "pardot":
        from .pardot import pull_pardot

        return pull_pardot(
            out,
            sf.sf.session_id,
            env=env,
            progress=progress,
            taken_at=taken_at,
            session=sf.sf.session,
            renew=sf.renew_session,
        )
    from .clay_drop import pull_clay

    return pull_clay(out, clay_dir=clay_dir, env=env, policy=policy, progress=progress)


def _stamp(path: Path, pulled: SourcePull) -> None:
    doc = tomllib.loads(path.read_text("utf-8")) if path.exists() else {"notes": "pulled by reconcile pull"}
    doc.setdefault("taken_at", {})[pulled.system] = pulled.taken_at
    doc.setdefault("pulled", {})[pulled.system] = {
        "files": len(pulled.files),
        "records": pulled.records,
        "api_requests": pulled.requests,
        **pulled.detail,
    }
    write_atomic(path, dump_toml(doc))


def dump_toml(doc: dict) -> str:
    """Scalars first, then one [table] per dict (nested dicts as [a.b]); enough for manifest.toml."""
    lines: list[str] = []

    def emit(prefix: str, table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if prefix and scalars:
            lines.extend(["", f"[{prefix}]"])
        lines.extend(f"{k} = {_value(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", doc)
    return "\n".join(lines).lstrip("\n") + "\n"


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v))
