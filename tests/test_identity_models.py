"""Identity models, one at a time: hand-made staging rows in (`given`), the model's rows out (`expect`).

test_rules.py runs every case end to end through build_plan, so a failure there names the rule; these run one
model with run_model on staging tables of the real schema (a staged hand-made snapshot, emptied), so an identity
failure names its model. Staging columns a case leaves out are NULL.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import HANDMADE, campaign_id, contact_id, lead_id, member_id

from reconcile.build import model_params, staged
from reconcile.policy import load_policy
from reconcile.sql import run_model

L1, L2, L3 = lead_id(1), lead_id(2), lead_id(3)
M1, M2, M3 = member_id(1), member_id(2), member_id(3)
C1, C2 = campaign_id(1), campaign_id(2)
STAGING = (
    "stg_sfdc__lead",
    "stg_sfdc__contact",
    "stg_sfdc__campaign_member",
    "stg_clay__rows",
    "stg_smartlead__leads",
    "stg_smartlead__events",
    "stg_pardot__prospects",
)


@pytest.fixture(scope="module")
def con():
    c = staged(HANDMADE)
    yield c
    c.close()


def run(con, given: dict, models: list[str]) -> None:
    """Replace every staging table's rows with `given` (table → rows), then run `models` in order."""
    for table in STAGING:
        con.execute(f'delete from "{table}"')
        for row in given.get(table, []):
            cols = ", ".join(f'"{k}"' for k in row)
            con.execute(f'insert into "{table}" ({cols}) values ({", ".join("?" * len(row))})', list(row.values()))
    params = model_params(load_policy(), SimpleNamespace(taken_at={}))
    for name in models:
        run_model(con, f"intermediate/{name}", params)


def rows(con, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


def lead(lid, email):
    return {"sf_lead_id": lid, "email_norm": email, "email_raw": email}


def clay(row, **cols):
    return {"file": "clay/t.csv", "row": row, **cols}


def smartlead(row, **cols):
    return {"file": "smartlead/campaign-77.csv", "row": row, "smartlead_campaign_id": "77", **cols}


def event(row, **cols):
    keys = {"email_key": "lead_email", "sf_lead_id_key": "custom_fields.sfdc_lead_id"}  # as staging names them
    return {"file": "smartlead/events.jsonl", "row": row, "smartlead_campaign_id": "77", **keys, **cols}


def pardot(row, **cols):
    return {"file": "pardot/prospects.csv", "row": row, **cols}


# ------------------------------------------------------------------------------------------ int_source_rows_matched

SOURCE_ROWS = [
    {
        "why": "a row carrying an existing Lead id matches by id (details kept only for rows reaching no Lead)",
        "given": {"stg_sfdc__lead": [lead(L1, "a@x.test")], "stg_clay__rows": [clay(1, sf_lead_id=L1)]},
        "expect": [("clay", 1, L1, "by_id", None, None)],
    },
    {
        "why": "an unknown Lead id is not found, even when the email would match a Lead (the id wins), named by the "
        "policy's Clay header",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_clay__rows": [clay(1, sf_lead_id=L2, email_norm="a@x.test", email_raw="a@x.test")],
        },
        "expect": [("clay", 1, None, "id_not_found", "LeadId", None)],
    },
    {
        "why": "without an id, an email of exactly one Lead matches by email",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_smartlead__leads": [smartlead(1, email_norm="a@x.test", email_raw="A@x.test ")],
        },
        "expect": [("smartlead", 1, L1, "by_email", None, None)],
    },
    {
        "why": "an email two Leads share is ambiguous, with both candidates sorted",
        "given": {
            "stg_sfdc__lead": [lead(L2, "s@x.test"), lead(L1, "s@x.test")],
            "stg_pardot__prospects": [pardot(1, email_norm="s@x.test")],
        },
        "expect": [("pardot", 1, None, "ambiguous", "salesforceLeadId", [L1, L2])],
    },
    {
        "why": "an email only a Contact has is a contact, not unmatched",
        "given": {
            "stg_sfdc__contact": [{"sf_contact_id": contact_id(1), "email_norm": "c@x.test"}],
            "stg_clay__rows": [clay(1, email_norm="c@x.test")],
        },
        "expect": [("clay", 1, None, "contact", "LeadId", None)],
    },
    {
        "why": "a Pardot prospect synced to a Contact (and no Lead) is a Contact's prospect whatever its email",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test"), lead(L2, "s@x.test"), lead(L3, "s@x.test")],
            "stg_pardot__prospects": [
                pardot(1, email_norm="nobody@x.test", sf_contact_id=contact_id(1)),
                pardot(2, email_norm="a@x.test", sf_contact_id=contact_id(2)),  # one Lead's email
                pardot(3, email_norm="s@x.test", sf_contact_id=contact_id(3)),  # two Leads' email
            ],
        },
        "expect": [
            ("pardot", 1, None, "contact_prospect", "salesforceLeadId", None),
            ("pardot", 2, None, "contact_prospect", "salesforceLeadId", None),
            ("pardot", 3, None, "contact_prospect", "salesforceLeadId", None),
        ],
    },
    {
        "why": "no id and an email of nobody is unmatched",
        "given": {"stg_sfdc__lead": [lead(L1, "a@x.test")], "stg_smartlead__events": [event(1, email_norm="z@x.test")]},
        "expect": [("smartlead", 1, None, "unmatched", "custom_fields.sfdc_lead_id", None)],
    },
    {"why": "nothing in the sources: nothing out", "given": {"stg_sfdc__lead": [lead(L1, "a@x.test")]}, "expect": []},
]


@pytest.mark.parametrize("case", SOURCE_ROWS, ids=[c["why"] for c in SOURCE_ROWS])
def test_int_source_rows_matched(con, case):
    run(con, case["given"], ["int_source_rows_matched"])
    assert (
        rows(con, "select source, row, sf_lead_id, match, id_column, candidates from int_source_rows_matched")
        == case["expect"]
    )


def test_int_source_rows_matched_keeps_the_email_a_row_carried():
    """Events have no raw email (stg_smartlead__events): their email_norm stands in, named by the payload's key
    (email_key: lead_email, to_email, …). (Kept for the rows that reach no Lead, which the findings name.)"""
    c = staged(HANDMADE)
    try:
        run(
            c,
            {
                "stg_sfdc__lead": [lead(L1, "z@x.test")],
                "stg_smartlead__events": [event(1, email_norm="a@x.test")],
                "stg_smartlead__leads": [smartlead(2, email_norm="a@x.test", email_raw=" A@x.test")],
            },
            ["int_source_rows_matched"],
        )
        assert rows(c, "select row, email_raw, email_column from int_source_rows_matched") == [
            (1, "a@x.test", "lead_email"),
            (2, " A@x.test", "email"),
        ]
    finally:
        c.close()


# ------------------------------------------------------------------------------------------ int_smartlead_member_rows

MEMBER_ROWS = [
    {
        "why": "a leads-export row reaches the member Clay ties to its (Smartlead campaign, email)",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [{"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1}],
            "stg_clay__rows": [clay(1, sf_campaign_member_id=M1, smartlead_campaign_id="77", email_norm="a@x.test")],
            "stg_smartlead__leads": [smartlead(1, email_norm="a@x.test", smartlead_lead_map_id="m1")],
        },
        "expect": [(1, "77", "m1", M1)],
    },
    {
        "why": "else through its Lead and custom_fields.sfdc_campaign_id, when they name one member",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L1, "sf_campaign_id": C2},
            ],
            "stg_smartlead__leads": [smartlead(1, sf_lead_id=L1, sf_campaign_id=C2)],
        },
        "expect": [(1, "77", None, M2)],
    },
    {
        "why": "a Lead in its campaign twice names no member",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L1, "sf_campaign_id": C1},
            ],
            "stg_smartlead__leads": [smartlead(1, sf_lead_id=L1, sf_campaign_id=C1)],
        },
        "expect": [],
    },
    {
        "why": "a Clay pair that names two members does not count",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L1, "sf_campaign_id": C2},
            ],
            "stg_clay__rows": [
                clay(1, sf_campaign_member_id=M1, smartlead_campaign_id="77", email_norm="a@x.test"),
                clay(2, sf_campaign_member_id=M2, smartlead_campaign_id="77", email_norm="a@x.test"),
            ],
            "stg_smartlead__leads": [smartlead(1, email_norm="a@x.test")],
        },
        "expect": [],
    },
    {
        "why": "a row whose Lead is unknown reaches nobody",
        "given": {
            "stg_sfdc__campaign_member": [{"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1}],
            "stg_smartlead__leads": [smartlead(1, sf_lead_id=L3, sf_campaign_id=C1)],
        },
        "expect": [],
    },
]


@pytest.mark.parametrize("case", MEMBER_ROWS, ids=[c["why"] for c in MEMBER_ROWS])
def test_int_smartlead_member_rows(con, case):
    models = [
        "int_source_rows_matched",
        "int_clay_member_conflicts",
        "int_clay_member_pairs",
        "int_repeated_lead_campaigns",
        "int_smartlead_member_rows",
    ]
    run(con, case["given"], models)
    assert (
        rows(
            con,
            "select row, smartlead_campaign_id, smartlead_lead_map_id, sf_campaign_member_id "
            "from int_smartlead_member_rows",
        )
        == case["expect"]
    )


# ------------------------------------------------------------------------------------------ int_campaign_member_links

MEMBER_LINKS = [
    {
        "why": "a Clay row names its member; an unknown member is kept, not found",
        "given": {
            "stg_sfdc__campaign_member": [{"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1}],
            "stg_clay__rows": [clay(1, sf_campaign_member_id=M1), clay(2, sf_campaign_member_id=M3), clay(3)],
        },
        "expect": [("clay", 1, M1, True), ("clay", 2, M3, False)],
    },
    {
        "why": "a Clay row whose member is another Lead's (or a Contact's) reaches no member, nor pairs an event with it",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test"), lead(L2, "b@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L2, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M3, "sf_contact_id": "003000000000001AAA", "sf_campaign_id": C1},
            ],
            "stg_clay__rows": [
                clay(1, sf_campaign_member_id=M2, sf_lead_id=L1, smartlead_campaign_id="77", email_norm="a@x.test"),
                clay(2, sf_campaign_member_id=M3, email_norm="a@x.test"),
                clay(3, sf_campaign_member_id=M2, email_norm="b@x.test"),
                clay(4, sf_campaign_member_id=M1),  # reaches no Lead: its member is used (unmatched_source_row says so)
            ],
            "stg_smartlead__events": [event(1, email_norm="a@x.test")],
        },
        "expect": [("clay", 3, M2, True), ("clay", 4, M1, True)],
    },
    {
        "why": "a webhook event reaches a member through the Clay pair",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [{"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1}],
            "stg_clay__rows": [clay(1, sf_campaign_member_id=M1, smartlead_campaign_id="77", email_norm="a@x.test")],
            "stg_smartlead__events": [event(1, email_norm="a@x.test")],
        },
        "expect": [("clay", 1, M1, True), ("smartlead", 1, M1, True)],
    },
    {
        "why": "else through the leads export's map id; an event reaching nobody is left out",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [{"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1}],
            "stg_smartlead__leads": [smartlead(5, sf_lead_id=L1, sf_campaign_id=C1, smartlead_lead_map_id="m1")],
            "stg_smartlead__events": [event(1, smartlead_lead_map_id="m1"), event(2, smartlead_lead_map_id="m9")],
        },
        "expect": [("smartlead", 1, M1, True), ("smartlead", 5, M1, True)],
    },
    {
        "why": "else through the leads export's Smartlead lead id (LEAD_CATEGORY_UPDATED `lead_id`: no map id)",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test"), lead(L2, "b@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L2, "sf_campaign_id": C1},
            ],
            "stg_smartlead__leads": [
                smartlead(5, sf_lead_id=L1, sf_campaign_id=C1, smartlead_lead_id="112"),
                smartlead(6, sf_lead_id=L2, sf_campaign_id=C1, smartlead_lead_id="113"),
            ],
            "stg_smartlead__events": [
                event(1, smartlead_lead_id="112", email_norm="other@x.test"),
                event(2, smartlead_lead_id="112", smartlead_campaign_id="78"),  # the id in another campaign: no
                event(3, smartlead_lead_id="999"),
            ],
        },
        "expect": [("smartlead", 1, M1, True), ("smartlead", 5, M1, True), ("smartlead", 6, M2, True)],
    },
    {
        "why": "else through the leads export's row of the event's email in its campaign (one member only)",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test"), lead(L2, "b@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L2, "sf_campaign_id": C1},
            ],
            "stg_smartlead__leads": [
                smartlead(5, sf_lead_id=L1, sf_campaign_id=C1, email_norm="a@x.test"),
                smartlead(6, sf_lead_id=L2, sf_campaign_id=C1, email_norm="shared@x.test"),
                smartlead(7, sf_lead_id=L1, sf_campaign_id=C1, email_norm="shared@x.test"),
            ],
            "stg_smartlead__events": [event(1, email_norm="a@x.test"), event(2, email_norm="shared@x.test")],
        },
        "expect": [
            ("smartlead", 1, M1, True),
            ("smartlead", 5, M1, True),
            ("smartlead", 6, M2, True),
            ("smartlead", 7, M1, True),
        ],
    },
    {
        "why": "else through its Lead and custom_fields.sfdc_campaign_id, when they name one member (SPEC §3)",
        "given": {
            "stg_sfdc__lead": [lead(L1, "a@x.test")],
            "stg_sfdc__campaign_member": [
                {"sf_campaign_member_id": M1, "sf_lead_id": L1, "sf_campaign_id": C1},
                {"sf_campaign_member_id": M2, "sf_lead_id": L1, "sf_campaign_id": C2},
            ],
            "stg_smartlead__events": [
                event(1, sf_lead_id=L1, sf_campaign_id=C2),
                event(2, email_norm="a@x.test", sf_campaign_id=C1),
                event(3, sf_lead_id=L3, sf_campaign_id=C1),
            ],
        },
        "expect": [("smartlead", 1, M2, True), ("smartlead", 2, M1, True)],
    },
]


@pytest.mark.parametrize("case", MEMBER_LINKS, ids=[c["why"] for c in MEMBER_LINKS])
def test_int_campaign_member_links(con, case):
    run(
        con,
        case["given"],
        [
            "int_source_rows_matched",
            "int_clay_member_conflicts",
            "int_clay_member_pairs",
            "int_repeated_lead_campaigns",
            "int_smartlead_member_rows",
            "int_campaign_member_links",
        ],
    )
    assert (
        rows(con, "select source, row, sf_campaign_member_id, cm_found from int_campaign_member_links")
        == case["expect"]
    )
