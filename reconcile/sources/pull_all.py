"""`reconcile pull --sources sfdc,smartlead,pardot,clay`: one complete snapshot, manifest.toml taken_at per source.

Every requested source's settings are checked first (the Clay drop folder and its exports, SMARTLEAD_API_KEY and the
webhook spool, PARDOT_BUSINESS_UNIT_ID, then the Salesforce login), so a missing one costs no request. Then each
source is pulled in turn (Salesforce first: its login also gives Account Engagement its OAuth token) into a hidden
sibling of OUT (holding OUT's files, hard-linked, when OUT exists), which takes OUT's place only once every source is
pulled: a source that fails stops the pull with its `Error:` line and leaves OUT as it was (and the webhook spool's
last-pulled day unmoved). manifest.toml gets `[taken_at] <source> = …` and `[pulled.<source>] files, records,
api_requests` for every source pulled, keeping what else it says; the plan's summary.inputs.sources shows
api_requests from there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tomllib
from contextlib import contextmanager
from pathlib import Path

from ..errors import PullError
from ..files import folders_for, write_atomic
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
    out = Path(out_dir)
    if out.exists() and not out.is_dir():  # a plan or an export named by mistake would become a hidden .replaced file
        raise PullError(
            f"--out '{out}' is a file, not a snapshot folder: pull writes sfdc/, clay/, smartlead/ and pardot/ into a "
            "folder. Pass a new folder, or an earlier snapshot's folder to refresh it."
        )
    campaigns, clay_dir = _defaults(policy, env, campaigns, clay_dir)
    check_settings(sources, env, clay_dir, spool, policy)
    sf = None
    needs_sf = [s for s in sources if s in ("sfdc", "pardot")]
    if needs_sf:
        if connect_sf is None:
            raise PullError(
                f"Pulling {needs_sf[0]} needs a Salesforce login: set the SF_* variables (README "
                "'Connecting to your org')."
            )
        sf = connect_sf()
    results: list[SourcePull] = []
    spooled_day = None
    with _staged(out) as stage:
        for system in sources:
            if progress:
                progress(f"{system}: pulling")
            results.append(
                _pull_one(system, stage, sf, env, campaigns, clay_dir, policy, progress, taken_at, bulk_threshold)
            )
            if system == "smartlead" and spool:
                from .webhook import copy_events

                spooled_day = copy_events(spool, stage, results[-1], progress=progress, mark=False)
            _stamp(stage / "manifest.toml", results[-1])
    if spool and spooled_day:
        from .webhook import mark_pulled

        mark_pulled(spool, spooled_day)  # only now: the snapshot holds those days
    return results


def check_settings(sources, env=None, clay_dir=None, spool=None, policy=None) -> None:
    """Every requested source's settings, before anything is pulled: PullError naming each one missing or wrong."""
    from .clay_drop import check_drop
    from .pardot import pardot_settings
    from .smartlead import smartlead_client
    from .webhook import check_spool

    env = os.environ if env is None else env
    checks = {
        "smartlead": lambda: (smartlead_client(env), spool and check_spool(spool)),
        "pardot": lambda: pardot_settings(env),
        "clay": lambda: check_drop(clay_dir, env, policy),
    }
    problems = []
    for system in sources:
        try:
            checks.get(system, lambda: None)()
        except PullError as e:
            problems.append(str(e))
    if problems:
        raise PullError(" ".join(problems))


@contextmanager
def _staged(out: Path):
    """A hidden sibling folder to pull into (with OUT's files when OUT exists), put in OUT's place when the block
    ends without an error and removed when it fails, with any parent folder it had to create (files.folders_for)."""
    out = out.resolve() if out.is_symlink() else out  # a link to the snapshot folder stays a link
    with folders_for(out.parent):
        stage = out.with_name(f".{out.name}.pulling-{secrets.token_hex(4)}")
        stage.mkdir()
        try:
            if out.is_dir():
                # hard links, not copies (a snapshot can be gigabytes): every source replaces a file (write_atomic,
                # or unlink then copy), never writes into one, so OUT's files are never changed through a link
                shutil.copytree(out, stage, copy_function=_link_or_copy, dirs_exist_ok=True)
            yield stage
            if out.exists():
                replaced = stage.with_name(stage.name + ".replaced")
                os.rename(out, replaced)
                os.rename(stage, out)
                shutil.rmtree(replaced, ignore_errors=True)
            else:
                os.rename(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)


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


def _pull_one(system, out, sf, env, campaigns, clay_dir, policy, progress, taken_at, bulk_threshold):
    if system == "sfdc":
        from ..pull import BULK_THRESHOLD, pull_snapshot

        before, taken = sf.requests_made, taken_at or now_utc()
        # the pull replaces sfdc/: an export of another name or format left there would be a second file of an
        # object (out is the staging folder: its files are links, OUT itself is untouched until the swap)
        shutil.rmtree(out / "sfdc", ignore_errors=True)
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

        return pull_smartlead(out, env=env, campaigns=campaigns, progress=progress, taken_at=taken_at)
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
