"""The value macros of sql/macros/values.sql against small Python oracles: the fast paths (first/last character
tests before a Unicode trim, ids parsed once in the read) must give exactly what the plain definitions give."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import ids
from reconcile.ids import id18
from reconcile.ingest import snapshots
from reconcile.ingest.contract import sources
from reconcile.sql import connect, load_macros, run_model

SPACES = " \t\n\r\u00a0\u200b\ufeff"


@pytest.fixture(scope="module")
def con():
    c = connect()
    load_macros(c)
    yield c
    c.close()


def trim_oracle(value):
    return None if value is None else value.strip(SPACES)


def clean_oracle(value):  # clean_text: trimmed, '' → NULL
    return trim_oracle(value) or None


def email_oracle(value):
    if value is None:
        return None
    e = value.strip(SPACES).lower()
    if e.startswith("mailto:"):
        e = e[7:].strip(SPACES)
    return e or None


CASES = [
    # raw, trim_space, clean_text, norm_email
    (None, None, None, None),
    ("", "", None, None),
    ("   ", "", None, None),
    ("\u00a0Acme\u200b", "Acme", "Acme", "acme"),
    ("\ufeffa@b.co\t", "a@b.co", "a@b.co", "a@b.co"),
    ("Ωmega ", "Ωmega", "Ωmega", "ωmega"),
    ("x", "x", "x", "x"),
    ("a  b", "a  b", "a  b", "a  b"),
    (" MAILTO: Ann@Example.COM ", "MAILTO: Ann@Example.COM", "MAILTO: Ann@Example.COM", "ann@example.com"),
    ("mailto:", "mailto:", "mailto:", None),
    ("mailto:\u00a0", "mailto:", "mailto:", None),
    ("\r\n", "", None, None),
]


@pytest.mark.parametrize("raw, trimmed, clean, email", CASES)
def test_text_macros(con, raw, trimmed, clean, email):
    assert con.execute("select trim_space(?), clean_text(?), norm_email(?)", [raw] * 3).fetchone() == (
        trimmed,
        clean,
        email,
    )


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(alphabet=SPACES + "aZ@.:mailtoMAILTOΩé", max_size=12)), min_size=1, max_size=40
    )
)
def test_text_macros_agree_with_python(con, values):
    """Vectorised over a column, the way the models call them (not one constant at a time)."""
    con.execute("create or replace temp table v (i integer, raw varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    got = con.execute("select trim_space(raw), clean_text(raw), norm_email(raw) from v order by i").fetchall()
    assert got == [(trim_oracle(v), clean_oracle(v), email_oracle(v)) for v in values]


VALID_18 = st.builds(
    lambda body, lower: id18(body)[:15] + (id18(body)[15:].lower() if lower else id18(body)[15:]),
    st.text(alphabet="abcXYZ0189", min_size=15, max_size=15),
    st.booleans(),
)


def assert_sf_id18_agrees_with_python(con, values):
    """sf_id18 (the Arrow UDF) over a column of `values` answers what the scalar id18 answers for each."""
    con.execute("create or replace temp table v (i integer, raw varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    got = [r[0] for r in con.execute("select sf_id18(raw) from v order by i").fetchall()]
    assert got == [id18(v) if v is not None else None for v in values]


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet="aAzZ09 \t", min_size=0, max_size=20),
            st.text(alphabet="abcXYZ0189", min_size=15, max_size=15),
            st.text(alphabet="abcXYZ0189", min_size=18, max_size=18),
            VALID_18,
        ),
        min_size=1,
        max_size=60,
    )
)
def test_sf_id18_agrees_with_python(con, values):
    assert_sf_id18_agrees_with_python(con, values)


# a valid id with one non-upper body character replaced by a non-alphanumeric one: the checksum still matches
DAMAGED_18 = st.builds(
    lambda v, i, ch: v[:i] + ch + v[i + 1 :] if not v[i].isupper() else v,
    VALID_18,
    st.integers(0, 14),
    st.sampled_from("-_ ."),
)


# 18 bytes that are no id (or not one as they stand): letters, digits, a dash, an accented letter, spaces
ODD_18_BYTES = st.text(alphabet="abXY09-é ", min_size=17, max_size=18).filter(lambda s: len(s.encode()) == 18)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            VALID_18,
            DAMAGED_18,
            st.none(),
            ODD_18_BYTES,
        ),
        min_size=1,
        max_size=60,
    )
)
def test_sf_id18_fixed_width_chunks(con, values):
    """Chunks of 18-byte values (and NULLs) take the gather-free path: same answers."""
    assert_sf_id18_agrees_with_python(con, values)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            VALID_18,
            VALID_18.map(lambda v: v[:15]),
            VALID_18.map(lambda v: v[:15] + v[15:].lower()),
            VALID_18.map(lambda v: v[:15] + v[15:][::-1]),  # a wrong checksum, mostly
            st.none(),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_sf_id18_mixed_15_and_18_character_chunks(con, values):
    """Chunks mixing 15- and 18-character values (Clay's LeadId) take the no-trim path too: same answers."""
    assert_sf_id18_agrees_with_python(con, values)


def test_sf_id18_trims_an_18_byte_value_holding_a_15_character_id(con):
    """Found by hypothesis in CI: '000000000000000   ' took the fixed-width path, which did not trim."""
    values = ["000000000000000   ", " 00Q5g00000AbCdE  ", None]
    con.execute("create or replace temp table v (i integer, raw varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    got = [r[0] for r in con.execute("select sf_id18(raw) from v order by i").fetchall()]
    assert (
        got
        == [id18(v) if v is not None else None for v in values]
        == ["000000000000000AAA", id18("00Q5g00000AbCdE"), None]
    )


LEAD = next(s for s in sources({}) if s.name == "sfdc__lead")  # one id column: Id


# any value an id column may hold: an id, a damaged one, 15 characters, a wrong checksum (mostly), a padded
# 15-character id (18 bytes), 18 odd bytes, none
ANY_ID = st.one_of(
    VALID_18,
    DAMAGED_18,
    VALID_18.map(lambda v: v[:15]),
    VALID_18.map(lambda v: v[:15] + v[15:][::-1]),
    VALID_18.map(lambda v: v[:15] + "   "),
    ODD_18_BYTES,
    st.none(),
)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(ANY_ID, min_size=1, max_size=60), st.integers(1, 7))
def test_ids_parsed_in_the_read_and_verified_in_bulk_agree_with_python(con, values, batch):
    """The read takes 18-byte ids as they are (sf_id18_read) and verify_ids corrects, in bulk and in batches of any
    size, those id18 answers differently for: the parsed column is id18 of every value."""
    con.execute("create or replace temp table v (i integer, id varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    con.execute("create or replace temp table t as select i, id, sf_id18_read(id) as id__id18 from v order by i")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ids, "ID_BATCH", batch)
        snapshots.verify_ids(con, LEAD, "t")
    got = [r[0] for r in con.execute("select id__id18 from t order by i").fetchall()]
    assert got == [id18(v) if v is not None else None for v in values]


SMARTLEAD_LEADS = next(s for s in sources({}) if s.name == "smartlead__leads")
SMARTLEAD_EVENTS = next(s for s in sources({}) if s.name == "smartlead__events")


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(ANY_ID, ANY_ID), min_size=1, max_size=40))
def test_smartlead_staging_ids_taken_from_json_agree_with_python(con, pairs):
    """stg_smartlead__leads / __events parse the Salesforce ids Smartlead's custom fields hold: every staged id is id18
    of the value the JSON held (valid, damaged, 15-character, wrong or lower-case checksum, odd bytes, none)."""

    def create(source, rows):  # the raw table as the read makes it (raw_schema), with the columns staging reads
        cols = ", ".join(f"{snapshots.qi(n)} {t}" for n, t in snapshots.raw_schema(source))
        con.execute(f"create or replace temp table {source.table} ({cols})")
        names = ", ".join(snapshots.qi(k) for k in rows[0])
        con.executemany(
            f"insert into {source.table} ({names}) values ({', '.join('?' for _ in rows[0])})",
            [list(r.values()) for r in rows],
        )

    create(
        SMARTLEAD_LEADS,
        [
            {
                "_file": "smartlead/campaign-1.csv",
                "_row": i + 1,
                "_campaign": "1",
                "custom_fields": json.dumps({"sfdc_lead_id": lead, "sfdc_campaign_id": campaign}),
            }
            for i, (lead, campaign) in enumerate(pairs)
        ],
    )
    create(
        SMARTLEAD_EVENTS,
        [
            {
                "_file": "smartlead/events.jsonl",
                "_row": i + 1,
                "payload": json.dumps({"event_type": "EMAIL_REPLY", "custom_fields": {"sfdc_lead_id": lead}}),
            }
            for i, (lead, _) in enumerate(pairs)
        ],
    )
    params = {"smartlead_taken_at": "2026-11-27T06:00:00Z"}
    run_model(con, "staging/stg_smartlead__leads", params)
    run_model(con, "staging/stg_smartlead__events", params)
    expect = [(id18(lead), id18(campaign)) for lead, campaign in pairs]
    assert con.execute("select sf_lead_id, sf_campaign_id from stg_smartlead__leads order by row").fetchall() == expect
    assert con.execute("select sf_lead_id from stg_smartlead__events order by row").fetchall() == [
        (lead,) for lead, _ in expect
    ]


def test_evidence_is_one_struct_shape_whatever_the_argument_types(con):
    got = con.execute(
        "select evidence('sfdc', 'sfdc/Lead.csv', 7, 'Cold_Lead_Eligible__c', true, null) as e, typeof(e)"
    ).fetchone()
    assert got == (
        {
            "source": "sfdc",
            "file": "sfdc/Lead.csv",
            "row": 7,
            "column": "Cold_Lead_Eligible__c",
            "value": "true",
            "at": None,
        },
        'STRUCT("source" VARCHAR, file VARCHAR, "row" BIGINT, "column" VARCHAR, "value" VARCHAR, "at" VARCHAR)',
    )


@pytest.mark.parametrize(
    "candidates, expected",
    [
        ("[null, 'read_only', case when false then 'too_long' end, 'pending_legal']", ["read_only", "pending_legal"]),
        ("[case when false then 'too_long' end]", []),
        ("cast([] as varchar[])", []),
    ],
)
def test_reasons_keeps_the_reasons_that_apply_in_order(con, candidates, expected):
    assert con.execute(f"select reasons({candidates})").fetchone()[0] == expected


# Smartlead webhook field names, new and old (source_schemas §1.8), in the precedence stg_smartlead__events gives them:
# (output column, [JSON paths, first present wins]). A path is a tuple of keys.
EVENT_FIELDS = {
    "email_norm": [("sl_lead_email",), ("lead_email",), ("lead_data", "email"), ("lead", "email"), ("to_email",)],
    "smartlead_campaign_id": [("campaign_id",), ("campaign", "id")],
    "smartlead_lead_map_id": [("sl_email_lead_map_id",), ("email_lead_map_id",)],
    "smartlead_lead_id": [("sl_email_lead_id",), ("lead_id",), ("email_lead_id",)],
    "event_at": [("event_timestamp",), ("timestamp",), ("time_replied",), ("time_sent",), ("created_at",)],
    "new_category": [("lead_category", "new_name"), ("category",)],
    "sf_lead_id": [("lead_data", "custom_fields", "sfdc_lead_id"), ("custom_fields", "sfdc_lead_id")],
}
EVENT_TYPES = ["EMAIL_BOUNCE", "email_bounced", "EMAIL_REPLY", "Email_Replied", "LEAD_CATEGORY_UPDATED", "EMAIL_OPEN"]
LEAF = st.one_of(
    st.none(),
    st.integers(-5, 10**12),
    st.sampled_from(["", "  ", " Ann@X.io ", "Interested", "9181", "2026-11-27T03:00:00Z", "2026-11-27 05:00+02:00"]),
    VALID_18,
    VALID_18.map(lambda v: v[:15]),
)


def _nest(path: tuple, value) -> dict:
    return {path[0]: value} if len(path) == 1 else {path[0]: _nest(path[1:], value)}


def _merge(a: dict, b: dict) -> dict:  # b into a; a non-object already at a key stays (the payload is one JSON object)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a.setdefault(k, v)
    return a


@st.composite
def smartlead_payloads(draw):
    """A webhook payload: an event name under event_type or event, then any of the field paths with a leaf value,
    and sometimes a parent key holding a non-object (lead_data as text, lead_category as a plain string)."""
    p = {draw(st.sampled_from(["event_type", "event"])): draw(st.sampled_from(EVENT_TYPES))}
    paths = [path for paths in EVENT_FIELDS.values() for path in paths]
    for path in draw(st.lists(st.sampled_from(paths), max_size=8)):
        _merge(p, _nest(path, draw(LEAF)))
    for key in draw(st.lists(st.sampled_from(["lead_data", "lead", "campaign", "lead_category"]), max_size=2)):
        p.setdefault(key, draw(st.one_of(st.none(), st.sampled_from(["Meeting Request", "7", ""]))))
    return p


def _text_at(payload: dict, path: tuple):
    """What DuckDB's `->>` gives for a path: the text of a string or number, NULL for a missing key or JSON null."""
    v = payload
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return None if v is None else str(v)


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(smartlead_payloads(), min_size=1, max_size=30))
def test_smartlead_event_fields_take_the_first_name_present(con, payloads):
    """stg_smartlead__events reads every field of a payload in one parse: each column is still the first of its old
    and new names that the payload holds (a missing key, a JSON null or a parent that is not an object skips it), a
    plain-string lead_category counts as the category, and only bounce, reply and category events are staged."""
    cols = ", ".join(f"{snapshots.qi(n)} {t}" for n, t in snapshots.raw_schema(SMARTLEAD_EVENTS))
    con.execute(f"create or replace temp table {SMARTLEAD_EVENTS.table} ({cols})")
    con.executemany(
        f"insert into {SMARTLEAD_EVENTS.table} (_file, _row, payload) values ('smartlead/events.jsonl', ?, ?)",
        [(i + 1, json.dumps(p)) for i, p in enumerate(payloads)],
    )
    run_model(con, "staging/stg_smartlead__events", {})
    got = con.execute(
        "select row, event_type, kind, email_norm, smartlead_campaign_id, smartlead_lead_map_id, smartlead_lead_id, "
        "event_at, new_category, sf_lead_id from stg_smartlead__events order by row"
    ).fetchall()
    expect = []
    for i, p in enumerate(payloads):
        t = (_text_at(p, ("event_type",)) or _text_at(p, ("event",)) or "").upper()
        if t not in ("EMAIL_BOUNCE", "EMAIL_BOUNCED", "EMAIL_REPLY", "EMAIL_REPLIED", "LEAD_CATEGORY_UPDATED"):
            continue
        first = {
            col: next((v for path in paths if (v := _text_at(p, path)) is not None), None)
            for col, paths in EVENT_FIELDS.items()
        }
        if first["new_category"] is None and isinstance(p.get("lead_category"), str):
            first["new_category"] = p["lead_category"]
        kind = "bounce" if "BOUNCE" in t else "reply" if "REPL" in t else "category"
        (event_at,) = con.execute("select sf_ts(?)", [first["event_at"]]).fetchone()
        expect.append(
            (
                i + 1,
                t,
                kind,
                email_oracle(first["email_norm"]),
                clean_oracle(first["smartlead_campaign_id"]),
                clean_oracle(first["smartlead_lead_map_id"]),
                clean_oracle(first["smartlead_lead_id"]),
                event_at,
                clean_oracle(first["new_category"]),
                id18(first["sf_lead_id"]) if first["sf_lead_id"] is not None else None,
            )
        )
    assert got == expect


@pytest.mark.parametrize(
    "given, shown",
    [
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),
        ("2026-12-01T10:00:00.500Z", "2026-12-01T10:00:00.500Z"),  # the fraction a tie-break used is shown
        ("2026-12-01T12:00:00.123+02:00", "2026-12-01T10:00:00.123Z"),
        ("2026-12-01T10:00:00.000123Z", "2026-12-01T10:00:00.000123Z"),
    ],
)
def test_evidence_times_keep_their_fraction_of_a_second(con, given, shown):
    assert con.execute("select iso_ts(cast(? as timestamptz))", [given]).fetchone()[0] == shown
