"""The only code that reads sql/ files: the model registry, run_model(), run_audits() and the connection setup."""

from __future__ import annotations

import functools
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

MACROS = ("macros/values.sql",)

# Every model, in the order a build runs them: each after the models it reads (a conventions test checks it, and that
# each .sql file appears here exactly once). Within that, each finding and rule runs as soon as its intermediates
# exist, so that build() can drop every intermediate right after its last reader (run_models(free=True)): the
# largest (int_source_rows_matched, int_campaign_member_links, 4.5M and 3.8M rows at 1M leads) are gone before the
# enrichment rule runs. Holding all of them until the plan kept ~1.5 GB of temporary tables, 1 GB of it evicted to
# disk under the 1 GB limit, while the rules and the plan ran.
MODELS = (
    "staging/stg_sfdc__lead",
    "staging/stg_sfdc__campaign_member",
    "staging/stg_sfdc__contact",
    "staging/stg_sfdc__campaign",
    "staging/stg_clay__rows",
    "staging/stg_clay__errors",
    "staging/stg_smartlead__leads",
    "staging/stg_smartlead__events",
    "staging/stg_pardot__prospects",
    "intermediate/int_source_rows_matched",
    "intermediate/int_clay_member_conflicts",
    "intermediate/int_clay_member_pairs",
    "intermediate/int_repeated_lead_campaigns",
    "intermediate/int_smartlead_member_rows",
    "intermediate/int_campaign_member_links",
    "intermediate/int_reply_evidence",
    "intermediate/int_classification_events",
    "intermediate/int_unlinked_do_not_contact",
    "findings/find_unmatched_source_row",
    "findings/find_ambiguous_match",
    "findings/find_pardot_sync_gap",
    "intermediate/int_sender_bounces",
    "intermediate/int_bounce_evidence",
    "intermediate/int_enrichment_rows",
    "findings/find_deliverability_review",
    "findings/find_sender_originated_bounce",
    "findings/find_bounce_hop_lost",
    "rules/rule_hard_bounce_union",
    "intermediate/int_enrichment_values",
    "findings/find_conflicting_enrichment",
    "rules/rule_enrichment_fill_if_blank",
    "intermediate/int_classification_latest",
    "intermediate/int_reply_outcome",
    "rules/rule_reply_set_once",
    "rules/rule_reply_classification_latest",
    "findings/find_classification_without_reply",
    "findings/find_do_not_contact_reply",
    "findings/find_overall_formula_mismatch",
    "findings/find_eligibility_mismatch",
    "findings/find_connector_error",
    "plan/plan_record_context",
    "plan/plan_changes",
    "plan/plan_findings",
    "plan/plan_eligibility",
)

# One finding kind per file, named after the kind (sql/findings/find_<kind>.sql): the report's kind is the file name.
FINDING_KINDS = tuple(m.split("/find_", 1)[1] for m in MODELS if m.startswith("findings/"))
# One rule per file likewise (sql/rules/rule_<rule>.sql): what a policy field's `rule` may name.
RULES = tuple(m.split("/rule_", 1)[1] for m in MODELS if m.startswith("rules/"))


@functools.cache
def rule_fields() -> dict[str, frozenset[tuple[str, str]]]:
    """rule → the (object, field)s it writes, read from each rule file's header (`-- Rule <name> (Object.Field, …):`,
    which test_conventions requires): the policy's `rule` of a field must be the rule that writes it."""
    out = {}
    for rule in RULES:
        head = (SQL_DIR / "rules" / f"rule_{rule}.sql").read_text("utf-8").split("\n", 1)[0]
        m = re.match(rf"-- Rule {rule} \(([^)]*)\):", head)
        out[rule] = frozenset(tuple(f.strip().split(".", 1)) for f in m.group(1).split(",")) if m else frozenset()
    return out


# Intermediate models are working tables of one build (recomputed from staging on every plan, never kept in the
# DuckDB file). Staging, rule, finding and plan tables are kept in the file for analysts. Intermediates are
# temporary tables unless they are expected to be several times the memory limit (spills): then they go to a scratch
# database file attached as `scratch` (written without string compression, deleted after the build).
TEMPORARY = ("intermediate/",)
SCRATCH = "scratch"
SCRATCH_UNCOMPRESSED = "dict_fsst,fsst,dictionary"

# Staging tables are written once per build and read by the models that follow: zstd, not DuckDB's default string
# compression (dict_fsst), whose analysis cost more than the staging query itself. Measured at 1M leads (quiet), CPU s
# to write / MB on disk, default → zstd: Lead 2.8 → 2.0 / 91 → 97, Clay rows 6.3 → 4.6 / 180 → 200, Smartlead leads
# 10.0 → 7.4 / 197 → 273, CampaignMember 1.4 → 1.0 / 43 → 81, Pardot 1.5 → 0.9 / 48 → 51 (uncompressed: Lead 1.5
# CPU s but 293 MB, Smartlead 5.4 but 629 MB).
STAGING = "staging/"
STAGING_COMPRESSION = "zstd"

# Build-time audits, run after the plan models (run_audits): each returns the rows that break an invariant of the
# plan; zero rows = pass. A conventions test checks every sql/audits/ file is listed here.
AUDITS = (
    "audits/assert_one_change_per_record_field",
    "audits/assert_after_differs_from_before",
    "audits/assert_ready_only_on_active_fields",
    "audits/assert_reason_is_first_reason",
    "audits/assert_reasons_are_known",
    "audits/assert_every_finding_routed",
)
AUDIT_SAMPLE_ROWS = 3

# Id columns a model takes with sf_id18_read (an 18-byte value as it is, see sql/macros/values.sql), checked in bulk
# right after the model (ids.correct_ids), as ingest checks the ids of the read. Smartlead's custom_fields ids through
# the Arrow function sf_id18 (3M values at 1M leads): ~1 s of the model, held to one thread by Python's lock.
CHECKED_IDS = {"staging/stg_smartlead__leads": ("sf_lead_id", "sf_campaign_id")}

# Models created as views, not tables (computed where they are read; no parameters).
VIEWS = ("plan/plan_record_context",)

# Queries that are not materialised as tables (read by their module with sql_text, values bound).
QUERIES = (
    "exports/export_campaign_members",
    "exports/export_campaign_member_counts",
    "plan/summary_by_campaign_and_gbu",
)

# Checks of values a source's staging model types itself (ids and times inside JSON: Smartlead custom_fields and
# webhook payloads), run right after that model (snapshots.check_staged): each returns its bad values as `rejects`
# rows, which stop a strict plan and are quarantined by a lenient one, like the read's own checks.
STAGED_CHECKS = {
    "smartlead__leads": "checks/check_smartlead__leads",
    "smartlead__events": "checks/check_smartlead__events",
}

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def sql_text(name: str) -> str:
    if name not in MODELS and name not in QUERIES and name not in AUDITS and name not in STAGED_CHECKS.values():
        raise KeyError(f"unknown SQL file {name!r}: register it in reconcile.sql")
    return (SQL_DIR / f"{name}.sql").read_text("utf-8")


def connect(
    path: str | Path | None = None, memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC (file-backed when a path is given).

    memory_limit (e.g. "2GB"; default: the RECONCILE_MEMORY_LIMIT environment variable, else DuckDB's own
    80 % of RAM — build_plan passes default_memory_limit() instead) bounds DuckDB's memory; beyond it DuckDB
    spills to a temporary directory beside the file.
    threads (default: RECONCILE_THREADS, else one per core) bounds DuckDB's worker threads; the plan is the same
    whatever the number.
    """
    con = duckdb.connect(str(path) if path else ":memory:")
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")  # reconcile reports its own progress
    n = threads or os.environ.get("RECONCILE_THREADS")
    if n:
        if not str(n).isdigit() or int(n) < 1:
            raise ValueError(f"threads '{n}' is not a whole number of at least 1")
        con.execute(f"set threads = {int(n)}")
    limit = effective_memory_limit(memory_limit)
    if limit:
        try:
            con.execute(f"set memory_limit = '{_checked_size(limit)}'")
        except duckdb.Error as e:
            raise ValueError(f"memory limit '{limit}' is not a size such as 2GB or 512MB") from e
    register_functions(con)
    return con


def effective_memory_limit(memory_limit: str | None = None) -> str | None:
    return memory_limit or os.environ.get("RECONCILE_MEMORY_LIMIT") or None


# The planning default when neither --memory-limit nor RECONCILE_MEMORY_LIMIT is set: a share of the memory the
# machine has available now, within bounds, raised for a large snapshot. DuckDB spills beyond it (to `<db>.tmp`
# beside the database file) and the build's intermediates go to its scratch file, so a plan of any size completes
# without a flag. The share alone (1 GB on a 24 GiB machine) is what a 1M-lead snapshot needs (peak RSS 1.2 GB);
# at 10M leads it made DuckDB spill nearly every join (910 s, 16.9× the 1M plan), so a snapshot larger than the
# share gets INPUT_MEMORY_FACTOR of its size (CSV/JSONL bytes; Parquet counted at PARQUET_EXPANSION × its bytes,
# the CSV/Parquet size ratio of the benchmark's snapshot), never more than DEFAULT_MEMORY_CAP of what is available.
DEFAULT_MEMORY_SHARE = 1 / 24
DEFAULT_MEMORY_MIN_MB, DEFAULT_MEMORY_MAX_MB = 1024, 4096  # below ~500 MB a 1M-lead backfill ran out of memory
INPUT_MEMORY_FACTOR = 0.4
PARQUET_EXPANSION = 5
DEFAULT_MEMORY_CAP = 1 / 3


# The plan models (PLAN_STAGE) come after every intermediate is dropped (run_models free=True; no intermediate has a
# plan model or a later one as its last reader, tests/test_scale.py): the models' working set is gone and the one large
# operation left is sorting the changes into the plan's order, their evidence lists the widest payload the sort
# carries — plan_changes is stored in that order, so writing its Parquet file sorts nothing again. Without a limit
# given, the plan models and the writing get PLAN_WRITE_SHARE of the available memory (1.5 GB on a 24 GiB machine) if
# that is more than the build's. Measured on the 1M backfill (1.58M changes; the sort and Parquet write alone): 4.3 s
# at 1 GB, 3.2 s at 1.5 GB, 2.8 s at 2 GB; plan_changes created sorted ran out of memory under 1 GB. Peak RSS stays
# within the backfill's 2 GB budget, and a quiet day's 25K changes never reach the build's own limit (bench/README).
PLAN_STAGE = "plan/"
# Models whose table is stored in an order (say so in the table's comment, read by stored_order): the plan's changes,
# which planfile.write_parts and the spreadsheet export then copy as stored (DuckDB keeps a single table's insertion
# order in a COPY: https://duckdb.org/docs/stable/sql/dialect/order_preservation), so 1.58M changes with their
# evidence are sorted once (backfill 1M: CREATE 3.7 + sorted COPY 4.3 s -> sorted CREATE 4.1 + COPY 1.5 s). The
# sorted CREATE needs more memory than a sorted COPY (1.58M changes under a 1 GB limit: out of memory, where the
# COPY took 4.3 s): when it runs out, the table is stored unsorted, without the comment, and the writers sort.
STORED_ORDER = {"plan/plan_changes": "object, record_id, field"}
_ORDER_COMMENT = "stored in order: "
PLAN_WRITE_SHARE = 1 / 16
PLAN_WRITE_MIN_MB, PLAN_WRITE_MAX_MB = 1536, 6144


def plan_write_memory_limit(build_limit: str, meminfo: str | Path = "/proc/meminfo") -> str:
    """The memory limit for writing the plan's files when no limit was given: PLAN_WRITE_SHARE of the available
    memory (between 1.5 GB and 6 GB, never more than DEFAULT_MEMORY_CAP of it: a small machine), or the build's own
    limit if that is larger."""
    available = _available(meminfo)
    share = min(max(int(available * PLAN_WRITE_SHARE / 2**20), PLAN_WRITE_MIN_MB), PLAN_WRITE_MAX_MB)
    share = min(share, int(available * DEFAULT_MEMORY_CAP / 2**20))
    return build_limit if size_bytes(build_limit) >= size_bytes(f"{share}MB") else f"{share}MB"


def _available(meminfo: str | Path = "/proc/meminfo") -> int:
    """The memory available now (MemAvailable; else physical memory; else 16 GiB), in bytes."""
    available = None
    try:
        with open(meminfo, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            available = 16 * 2**30
    return available


def default_memory_limit(meminfo: str | Path = "/proc/meminfo", input_bytes: int = 0) -> str:
    """1/24 of the available memory (MemAvailable; else of physical memory), between 1 GB and 4 GB — or, for a
    snapshot of `input_bytes` (see input_size) whose INPUT_MEMORY_FACTOR share is larger, that, up to a third of
    the available memory."""
    available = _available(meminfo)
    share = min(max(int(available * DEFAULT_MEMORY_SHARE / 2**20), DEFAULT_MEMORY_MIN_MB), DEFAULT_MEMORY_MAX_MB)
    scaled = int(min(input_bytes * INPUT_MEMORY_FACTOR, available * DEFAULT_MEMORY_CAP) / 2**20)
    return f"{max(share, scaled)}MB"


def input_size(paths) -> int:
    """A snapshot's bytes as default_memory_limit weighs them: CSV and JSONL as they are, Parquet × PARQUET_EXPANSION."""
    return sum(p.stat().st_size * (PARQUET_EXPANSION if p.suffix.lower() == ".parquet" else 1) for p in paths)


# Intermediates are temporary tables (DuckDB evicts them to its temp directory under the limit) while they are
# expected to fit the limit, else they go to the scratch file. Measured, same tree, alternating runs: 1M leads (1.48 GB
# of CSV, 1 GB limit) temp 76.0 / 82.5 CPU s vs scratch 81.9 / 97.0 (45.9 / 49.8 vs 50.5 / 59.9 s); 10M leads (5.5 GB
# limit) temp 546 s / 917 CPU s vs scratch 381.5 s / 634 CPU s: evicting temporary tables costs more than writing the
# scratch file once they are several times the limit. Intermediates take about half the snapshot's bytes (~650 MB at
# 1M leads).
INTERMEDIATE_FACTOR = 0.5
BUILD_CHECKPOINT_THRESHOLD = "1TB"  # checkpoints_deferred: a WAL size never reached while ingesting
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def spills(memory_limit: str, input_bytes: int) -> bool:
    """Whether a build under `memory_limit` (a size such as 2GB) writes its intermediates to the scratch file: when
    INTERMEDIATE_FACTOR of the snapshot's bytes (input_size) is more than the limit."""
    return input_bytes * INTERMEDIATE_FACTOR > size_bytes(memory_limit)


def size_bytes(memory_limit: str) -> int:
    """A memory size such as 2GB or 512MiB, in bytes (ValueError: not a size)."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)", _checked_size(memory_limit)).groups()
    return int(float(number) * _UNITS[unit.lower()])


def _checked_size(text: str) -> str:
    """A memory size such as 2GB (checked, because SET takes no bound parameters)."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip(), re.IGNORECASE):
        raise ValueError(f"memory limit '{text}' is not a size such as 2GB or 512MB")
    return text.strip()


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """sf_id18 as a vectorised Arrow function (15 → 18 characters, NULL when malformed): the SQL macro it replaces
    cost ~3 s per million ids; this is ~0.3 s. reconcile.ids.id18 is its scalar twin (tests check they agree)."""
    from duckdb.sqltypes import VARCHAR

    from .ids import id18_arrow

    try:
        con.create_function(
            "sf_id18", id18_arrow, [VARCHAR], VARCHAR, type="arrow", null_handling="special", side_effects=False
        )
    except duckdb.CatalogException:
        pass  # a second connection to the same database file shares the first one's registration


def load_macros(con: duckdb.DuckDBPyConnection, formula: str | Path | None = None) -> None:
    """Create the shared value macros and the org's eligibility formula (a replaceable SQL file)."""
    for name in MACROS:
        con.execute((SQL_DIR / name).read_text("utf-8"))
    path = Path(formula) if formula else SQL_DIR / "formulas" / "cold_lead_eligible.sql"
    if not path.is_absolute() and not path.exists():
        path = SQL_DIR / path
    con.execute(path.read_text("utf-8"))


def run_model(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None, spill: bool = False) -> None:
    """Materialise one model as a table named after its file stem, binding only the parameters it uses.
    spill: intermediates go to the scratch database instead of memory (see TEMPORARY, attach_scratch)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}")
    sql = sql_text(name)
    bound = _bound(name, sql, params)
    stem = name.rsplit("/", 1)[-1]
    working = name.startswith(TEMPORARY)
    if name in VIEWS:
        if bound:
            raise KeyError(f"model {name!r} is a view: views take no parameters")
        con.execute(f'create or replace view "{stem}" as {sql}')
        return
    table = f'{SCRATCH}."{stem}"' if working and spill else f'"{stem}"'
    target = f"temp table {table}" if working and not spill else f"table {table}"
    if working and spill:
        # scratch tables live for one build: DuckDB's string compression (dict_fsst) would cost more than it saves
        con.execute(f"set disabled_compression_methods = '{SCRATCH_UNCOMPRESSED}'")
    if name.startswith(STAGING):
        con.execute(f"set force_compression = '{STAGING_COMPRESSION}'")
    try:
        if name in STORED_ORDER:
            create_in_order(con, target, table, sql, bound, STORED_ORDER[name])
        else:
            create_with_retry(con, f"create or replace {target} as {sql}", bound)
        if name in CHECKED_IDS:
            from .ids import correct_ids

            for column in CHECKED_IDS[name]:
                correct_ids(con, table, f'"{column}"')
    finally:
        if working and spill:
            con.execute("reset disabled_compression_methods")
        if name.startswith(STAGING):
            con.execute("reset force_compression")


def create_in_order(con: duckdb.DuckDBPyConnection, target: str, table: str, sql: str, bound: dict, order: str) -> None:
    """A model's table stored sorted by `order`, its comment saying so (STORED_ORDER); when the sort runs out of
    memory, stored as the query gives it (create_with_retry), without that comment (said on stderr)."""
    try:
        con.execute(f"create or replace {target} as select * from ({sql}) order by {order}", bound)
    except duckdb.OutOfMemoryException:
        print(
            f"note: {table.replace(chr(34), '')} sorted ran out of memory; stored unsorted, sorted when the plan is written.",
            file=sys.stderr,
        )
        create_with_retry(con, f"create or replace {target} as {sql}", bound)
        return
    con.execute(f"comment on table {table} is '{_ORDER_COMMENT}{order}'")


def stored_order(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The order a table of the current database is stored in (STORED_ORDER), or None: unsorted, or a connection
    that does not keep insertion order (preserve_insertion_order off), where a COPY of it may come out in any order."""
    if not con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]:
        return None
    row = con.execute(
        "select comment from duckdb_tables() where database_name = current_database() and schema_name = "
        "current_schema() and table_name = ?",
        [table],
    ).fetchone()
    comment = (row[0] or "") if row else ""
    return comment.removeprefix(_ORDER_COMMENT) if comment.startswith(_ORDER_COMMENT) else None


def create_with_retry(con: duckdb.DuckDBPyConnection, statement: str, bound: dict) -> None:
    """Run one model's CREATE; when DuckDB runs out of memory, run it once more on one thread, then give up.

    DuckDB's first advice for that error is fewer threads (https://duckdb.org/docs/current/guides/performance/
    how_to_tune_workloads): each thread pins its own blocks of every hash table it builds. Under the limit a large
    snapshot gets (default_memory_limit) a 10M-lead plan completed in one run and ran out of memory in a model in
    the next ("failed to pin block", 5.2 GiB used); a failed CREATE leaves nothing behind, so the retry starts clean.
    The retry is said on stderr, so a run shows whether it needed it.
    """
    try:
        con.execute(statement, bound)
    except duckdb.OutOfMemoryException:
        threads = con.execute("select current_setting('threads')").fetchone()[0]
        if int(threads) <= 1:
            raise
        con.execute("set threads = 1")
        target = re.sub(r"^create (or replace )?", "", statement).split(" as ", 1)[0]
        print(f"note: {target} ran out of memory on {threads} threads; running it again on one.", file=sys.stderr)
        try:
            con.execute(statement, bound)
        finally:
            con.execute(f"set threads = {int(threads)}")


def code_of(sql: str) -> str:
    """A SQL text without its comment lines (a header names parameters and tables it does not use)."""
    return "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))


def staged_check(source: str, params: dict) -> tuple[str, dict] | None:
    """A source's staged check (STAGED_CHECKS) and the parameters it binds from params; None when it has none."""
    name = STAGED_CHECKS.get(source)
    if name is None:
        return None
    sql = sql_text(name)
    return sql, _bound(name, sql, params)


def _bound(name: str, sql: str, params: dict | None) -> dict:
    """The parameters a SQL file's body uses (its header comment names them too, but binds nothing), from params."""
    wanted = dict.fromkeys(_PARAM.findall(code_of(sql)))
    missing = [k for k in wanted if k not in (params or {})]
    if missing:
        raise KeyError(f"SQL file {name!r} needs parameter(s) {', '.join(missing)}")
    return {k: params[k] for k in wanted}


def run_audits(con: duckdb.DuckDBPyConnection, params: dict | None = None, names=AUDITS) -> None:
    """Run every audit; the first that returns rows raises AuditError naming it, the row count and the first rows."""
    from .errors import AuditError

    for name in names:
        sql = sql_text(name)
        cur = con.execute(f"select * from ({sql}) order by all limit {AUDIT_SAMPLE_ROWS}", _bound(name, sql, params))
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        if not rows:
            continue
        total = con.execute(f"select count(*) from ({sql})", _bound(name, sql, params)).fetchone()[0]
        stem = name.rsplit("/", 1)[-1]
        what = sql.splitlines()[0].removeprefix("-- Audit:").strip().rstrip(".")
        shown = "; ".join(", ".join(f"{c}={v!r}" for c, v in zip(columns, row)) for row in rows)
        raise AuditError(
            f"Audit '{stem}' failed ({what}): {total} offending row(s), first: {shown}. No plan was "
            "written: this is a bug in the SQL models; report it with the snapshot."
        )


def run_models(
    con: duckdb.DuckDBPyConnection,
    params: dict,
    progress=None,
    names=MODELS,
    spill: bool = False,
    free: bool = False,
    plan_memory_limit: str | None = None,
) -> None:
    """Run models in order. free: drop each intermediate right after the last of `names` that reads it (see
    last_readers), so the memory it holds goes to the models after it. plan_memory_limit: DuckDB's memory limit from
    the first plan model (PLAN_STAGE) on, when every intermediate is gone (plan_write_memory_limit)."""
    done_with = last_readers(names) if free else {}
    for name in names:
        if plan_memory_limit is not None and name.startswith(PLAN_STAGE):
            con.execute(f"set memory_limit = '{_checked_size(plan_memory_limit)}'")
            plan_memory_limit = None
        if progress:
            progress(name.rsplit("/", 1)[-1])
        run_model(con, name, params, spill=spill)
        for dead in done_with.get(name, ()):
            con.execute(f'drop table if exists {SCRATCH if spill else "temp.main"}."{dead.rsplit("/", 1)[-1]}"')


def last_readers(names=MODELS) -> dict[str, list[str]]:
    """{model: the intermediates it is the last reader of}, over `names` in order. Readers are the models and audits
    whose SQL names the table (comments left out); an intermediate an audit or a view (VIEWS: read where it is
    queried) reads, or that no model in `names` reads, is never listed (an audit runs after every model)."""
    readers_of = (*names, *AUDITS)
    bodies = {n: code_of(sql_text(n)) for n in readers_of}
    out: dict[str, list[str]] = {}
    for inter in (n for n in names if n.startswith(TEMPORARY)):
        reads = re.compile(rf"\b{re.escape(inter.rsplit('/', 1)[-1])}\b")
        readers = [n for n in readers_of if n != inter and reads.search(bodies[n])]
        if readers and readers[-1] in names and not set(readers) & set(VIEWS):
            out.setdefault(readers[-1], []).append(inter)
    return out


@contextmanager
def checkpoints_deferred(con: duckdb.DuckDBPyConnection):
    """Ingest and staging without DuckDB's automatic checkpoints (the WAL threshold raised for the block, then reset).
    An automatic checkpoint also vacuums the temporary database: a file's raw table, read by parallel threads into
    partly filled row groups, was merged and recompressed in full right before staging dropped it — 1.5-2.2 s for
    each of Lead.csv and the two Clay files on the 1M backfill (DuckDB's Checkpoint log: `vacuum` of
    `temp.main.raw_…`; the UPDATE itself 0.03 s). The build's file is discarded if anything fails, so a checkpoint
    there protects nothing. Only this block: deferred for a whole 10M build, the models that follow ran slower
    (537 s in one run, a model out of memory on two threads) than with their checkpoints."""
    con.execute(f"set checkpoint_threshold = '{BUILD_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        con.execute("reset checkpoint_threshold")


def attach_scratch(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    """The scratch database of a memory-bounded build (see TEMPORARY); models name its tables unqualified.
    (ATTACH takes no bound parameters: the path is quoted here.)"""
    con.execute(f"attach '{str(path).replace(chr(39), chr(39) * 2)}' as {SCRATCH}")
    con.execute(f"set search_path = 'main,{SCRATCH}'")
