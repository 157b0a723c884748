"""Conventions: every SQL file registered once with its header, committed notebooks thin and stripped, and each
fact written once (the contract, the model registry) with the copies people read agreeing."""

from __future__ import annotations

import re
import tomllib

import nbformat
import papermill as pm
import pytest
from conftest import REPO

from reconcile.ingest import contract
from reconcile import pull
from reconcile.policy import default_policy_path, load_policy
from reconcile.sql import AUDITS, FINDING_KINDS, MODELS, QUERIES, SQL_DIR, STAGED_CHECKS, code_of

NOTEBOOKS = REPO / "notebooks"
PARAMETERS = {
    "daily_run": ["snapshot_dir", "pull", "run_date", "work_dir", "policy_path", "lenient", "org"],
    "report": ["plan_path", "reports_dir", "title", "out_path"],
    "explore": ["plan_path", "db_path", "reports_dir", "record_id"],
    "apply": ["plan_path", "db_path", "org"],
}


def test_the_default_policy_spells_the_contracts_clay_headers():
    doc = tomllib.loads(default_policy_path().read_text("utf-8"))
    assert doc["clay"]["columns"] == {c.name: c.header for c in contract.CLAY_COLUMNS}
    assert load_policy().clay_columns == doc["clay"]["columns"]


def test_pull_reads_exactly_the_salesforce_sources_columns():
    assert pull.FIELDS == {obj: [c.header for c in src.columns] for obj, src in contract.SALESFORCE_OBJECTS.items()}
    assert set(pull.FIELDS) == {"Lead", "CampaignMember", "Contact", "Campaign"}


# ------------------------------------------------------------------------------------------ SQL conventions


def _sql_models_on_disk() -> list[str]:
    return sorted(
        p.relative_to(SQL_DIR).with_suffix("").as_posix()
        for p in SQL_DIR.rglob("*.sql")
        if p.relative_to(SQL_DIR).parts[0] not in ("macros", "formulas")
    )


# one id-column naming scheme (review (b) 1): Salesforce ids sf_<entity>_id, source-system ids <source>_<entity>_id;
# record_id (the Clay error log's record, of any object) is the plan's own vocabulary
ID_COLUMN = re.compile(r"(sf|smartlead|pardot|clay)_[a-z_]+_id|record_id")


def test_every_staged_id_column_follows_the_naming_scheme():
    staged = {c.stg for src in contract.sources({}) for c in src.columns if c.stg and c.stg.endswith("_id")}
    aliased = {
        name
        for path in (SQL_DIR / "staging").glob("*.sql")
        for name in re.findall(r"\bas (\w+_id)\b", path.read_text())
    }
    assert aliased, "no id column found in sql/staging"
    assert sorted(n for n in staged | aliased if not ID_COLUMN.fullmatch(n)) == []


def test_every_registered_model_exists_once():
    assert len(MODELS) == len(set(MODELS)), "a model is listed twice in reconcile.sql.MODELS"
    assert [m for m in MODELS if not (SQL_DIR / f"{m}.sql").is_file()] == []
    stems = [m.rsplit("/", 1)[1] for m in MODELS]
    assert len(stems) == len(set(stems)), "two models would materialise the same table"


def test_models_are_listed_after_every_model_they_read():
    """MODELS is the run order (intermediates are dropped after their last reader: sql.last_readers): a model may
    only read the tables of models listed before it."""
    stems = [m.rsplit("/", 1)[1] for m in MODELS]
    for k, model in enumerate(MODELS):
        body = code_of((SQL_DIR / f"{model}.sql").read_text("utf-8"))
        later = [s for s in stems[k + 1 :] if re.search(rf"\b{s}\b", body)]
        assert later == [], f"{model} reads {later}, listed after it"


def test_last_readers_names_each_intermediate_once_at_its_last_reader():
    from reconcile.sql import last_readers

    rows, values = "intermediate/int_enrichment_rows", "intermediate/int_enrichment_values"
    rule, finding = "rules/rule_enrichment_fill_if_blank", "findings/find_conflicting_enrichment"
    assert last_readers([rows, values, finding, rule]) == {rule: [rows, values]}
    assert last_readers([rows, values, rule, finding]) == {finding: [rows, values]}
    assert last_readers([rows, values]) == {values: [rows]}  # values is read by nothing in the list: kept
    listed = [i for dead in last_readers().values() for i in dead]
    assert sorted(listed) == sorted(m for m in MODELS if m.startswith("intermediate/"))


def test_last_readers_keeps_an_intermediate_a_view_reads(monkeypatch):
    from reconcile import sql

    rows, values = "intermediate/int_enrichment_rows", "intermediate/int_enrichment_values"
    rule = "rules/rule_enrichment_fill_if_blank"
    monkeypatch.setattr(sql, "VIEWS", (rule,))  # a view is read where it is queried, after any drop
    assert sql.last_readers([rows, values, rule]) == {}
    monkeypatch.setattr(sql, "VIEWS", ())
    assert sql.last_readers([rows, values, rule]) == {rule: [rows, values]}


def test_every_sql_file_is_registered_in_models():
    assert (
        sorted(set(_sql_models_on_disk()) - set(MODELS) - set(QUERIES) - set(AUDITS) - set(STAGED_CHECKS.values()))
        == []
    )
    assert not set(MODELS) & set(QUERIES)


@pytest.mark.parametrize("model", _sql_models_on_disk())
def test_every_sql_file_starts_with_a_comment_header(model):
    lines = (SQL_DIR / f"{model}.sql").read_text("utf-8").splitlines()
    assert lines[0].startswith("-- "), f"{model}.sql must start with a '-- ' header (purpose, grain, parameters)"
    header = " ".join(ln for ln in lines[: next(i for i, ln in enumerate(lines) if not ln.startswith("--"))])
    assert "grain" in header.lower(), f"{model}.sql header names its grain"
    assert "parameters" in header.lower(), f"{model}.sql header names its parameters (or 'none')"


def test_every_finding_kind_has_its_file_named_after_it():
    from reconcile.policy import load_policy
    from reconcile.report.report_text import KINDS

    assert sorted(FINDING_KINDS) == sorted(KINDS) == sorted(load_policy().routes), (
        "a finding kind needs sql/findings/find_<kind>.sql, report wording (report_text.KINDS) and a default route"
    )
    plan_findings = (SQL_DIR / "plan" / "plan_findings.sql").read_text("utf-8")
    for kind in FINDING_KINDS:
        sql = (SQL_DIR / "findings" / f"find_{kind}.sql").read_text("utf-8")
        body = "\n".join(ln for ln in sql.splitlines() if not ln.startswith("--"))
        assert f"'{kind}' as kind" in body, f"find_{kind}.sql selects '{kind}' as kind"
        assert not [k for k in FINDING_KINDS if k != kind and f"'{k}'" in body], f"find_{kind}.sql holds one kind"
        assert re.search(rf"\bfrom find_{kind}\n", plan_findings), f"plan_findings.sql reads find_{kind}"


@pytest.mark.parametrize("model", _sql_models_on_disk())
def test_every_bound_parameter_is_named_in_the_header(model):
    lines = (SQL_DIR / f"{model}.sql").read_text("utf-8").splitlines()
    top = next(i for i, ln in enumerate(lines) if not ln.startswith("--"))
    header, body = " ".join(lines[:top]), "\n".join(lines[top:])
    assert sorted(set(re.findall(r"\$[a-z_][a-z0-9_]*", body)) - set(re.findall(r"\$[a-z_][a-z0-9_]*", header))) == []


# ------------------------------------------------------------------------------------------ committed notebooks


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameters_are_typed_and_documented(name):
    params = pm.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
    assert list(params) == PARAMETERS[name]
    for p in params.values():
        assert p["inferred_type_name"] in ("str", "bool", "int", "float"), p
        assert p["help"].strip(), f"{name}: parameter {p['name']} has no # help comment"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebook_is_stripped_and_thin(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c for c in code if c.outputs or c.execution_count is not None] == []
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert "parameters" in code[0].metadata.get("tags", [])
    for c in code:
        assert not re.search(r"^\s*(def|class|for|while) ", c.source, re.M), c.source
        assert not re.search(r"\b(select|insert|update|delete)\b .*\bfrom\b", c.source, re.I), c.source
    assert not re.search(r"password|session_id|token|secret", code[0].source, re.I)


def test_each_rule_file_names_the_fields_it_writes_and_the_default_policy_agrees():
    """The rule → fields map the policy is checked against is read from the rule files' headers (sql.rule_fields)."""
    from reconcile.sql import RULES, rule_fields

    written = rule_fields()
    assert set(written) == set(RULES) and all(written.values())
    by_policy = {(f.object, f.field): f.rule for f in load_policy(None).fields if f.rule}
    assert by_policy == {field: rule for rule, fields in written.items() for field in fields}
