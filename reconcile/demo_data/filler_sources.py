"""Filler source tables: Clay exports, Smartlead leads-exports, Pardot prospects, the Clay error log."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import vocab
from .population import HOUR, RATES, Population, blanks, clay_descriptions, keep, companies, domains, words
from .render import (
    BOOL_BLANK_FALSE,
    BOOL_EXCEL,
    BOOL_NUMERIC,
    BOOL_PLAIN,
    BOOL_WORDS,
    TS_MICROS_UTC,
    TS_MILLIS_Z,
    TS_MINUS5,
    TS_OFFSET_UTC,
    TS_Z,
    Renderer,
)

ENRICHMENT_COLUMNS = [
    "CampaignMemberId",
    "LeadId",
    "Email",
    "Company Description",
    "Industry",
    "Email Validation",
    "Smartlead Lead ID",
    "Smartlead Campaign ID",
]
REPLIES_COLUMNS = [
    "CampaignMemberId",
    "LeadId",
    "Email",
    "Smartlead Lead ID",
    "Smartlead Campaign ID",
    "Hard Bounced",
    "Replied",
    "Reply Category",
    "Reply At",
]
SMARTLEAD_COLUMNS = [
    "id",
    "campaign_lead_map_id",
    "status",
    "category",
    "is_interested",
    "created_at",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "company_name",
    "website",
    "location",
    "custom_fields",
    "linkedin_profile",
    "company_url",
    "is_unsubscribed",
    "unsubscribed_client_id_map",
    "last_email_sequence_sent",
    "open_count",
    "click_count",
    "reply_count",
]  # source_schemas §1.4, in the live export's order
PARDOT_COLUMNS = [
    "id",
    "email",
    "salesforceLeadId",
    "salesforceContactId",
    "isEmailHardBounced",
    "emailBouncedAt",
    "updatedAt",
]
ERROR_COLUMNS = ["time", "object", "record id", "field", "message"]

SMARTLEAD_LEAD_BASE = 2_900_000_000  # global Smartlead lead id = base + lead index
SMARTLEAD_MAP_BASE = 2_400_000_000  # campaign_lead_map_id = base + campaign member index
PARDOT_BASE = 51_000_000

CONNECTOR_ERRORS = [  # (object, field, message) as the Clay connector logs them
    ("Lead", "Company", "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]"),
    (
        "CampaignMember",
        "Has_Replied__c",
        "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records",
    ),
    (
        "Lead",
        "company_description__c",
        "INVALID_FIELD_FOR_INSERT_UPDATE: Unable to create/update fields: company_description__c. Please check the "
        "security settings of this field and verify that it is read/write for your profile or permission set.",
    ),
    ("Lead", "Industry", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Industry: bad value for restricted picklist field"),
    (
        "CampaignMember",
        "ReplyClassification__c",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Reply Classification: bad value for restricted picklist field",
    ),
    ("Lead", "external_hard_bounced__c", "ENTITY_IS_LOCKED: the entity is locked for editing"),
]


def _lead_refs(
    pop: Population, r: Renderer, lead_index: np.ndarray, short_share: float, blank_share: float
) -> pl.Series:
    ids = r.lead_ids(pop.lead_ids.gather(lead_index), short_share)
    if not r.quirks or blank_share == 0:
        return ids
    return keep(ids, pl.Series(r.rng.random(len(ids)) >= blank_share))


def clay_rows(pop: Population) -> np.ndarray:
    """Campaign-member indexes of the Clay rows, with ~1% duplicated (report imports without uniqueness)."""
    rows = np.flatnonzero(pop.cm["clay"])
    dupes = rows[pop.rng.random(len(rows)) < RATES["clay_duplicate"]]
    return np.sort(np.concatenate([rows, dupes]), kind="stable")


def _clay_keys(pop: Population, r: Renderer, rows: np.ndarray) -> dict[str, pl.Series]:
    lead_index = pop.cm["lead"][rows]
    return {
        "CampaignMemberId": pop.cm_ids.gather(rows),
        "LeadId": _lead_refs(pop, r, lead_index, short_share=0.4, blank_share=0.03),
        "Email": r.emails(pop.lead_emails.gather(lead_index), 0.1, 0.05),
        "Smartlead Lead ID": pl.Series(SMARTLEAD_LEAD_BASE + lead_index).cast(pl.String),
        "Smartlead Campaign ID": pl.Series(np.array(pop.campaign_sl_ids)[pop.cm["campaign"][rows]]).cast(pl.String),
    }


def clay_enrichment_frame(pop: Population, r: Renderer) -> pl.DataFrame:
    rows = clay_rows(pop)
    lead, lead_index = pop.lead, pop.cm["lead"][rows]
    found = pl.Series(lead["description_found"][lead_index])
    text = keep(clay_descriptions({k: v[lead_index] for k, v in lead.items()}), found)
    industry = words(vocab.INDUSTRIES, lead["industry"][lead_index])
    lower = pl.Series(r.quirks & lead["industry_lowercase"][lead_index] & (lead["industry_state"][lead_index] == 1))
    industry = keep(industry.zip_with(~lower, industry.str.to_lowercase()), found)
    labels = [v for v, _ in vocab.EMAIL_VALIDATION] + ["invalid"]
    validation = lead["validation"][lead_index]
    keys = _clay_keys(pop, r, rows)
    return pl.DataFrame(
        {
            **{k: keys[k] for k in ("CampaignMemberId", "LeadId", "Email")},
            "Company Description": text,
            "Industry": industry,
            "Email Validation": words(labels, np.where(validation < 0, len(labels) - 1, validation)),
            "Smartlead Lead ID": keys["Smartlead Lead ID"],
            "Smartlead Campaign ID": keys["Smartlead Campaign ID"],
        }
    )


def clay_replies_frame(pop: Population, r: Renderer) -> pl.DataFrame:
    rows = clay_rows(pop)
    cm = pop.cm
    replied = cm["replied"][rows]
    category = keep(words(vocab.FILLER_CATEGORY_NAMES, cm["category"][rows]), pl.Series(replied))
    reply_at = r.timestamps(cm["reply_us"][rows] + cm["clay_lag_us"][rows], TS_Z, TS_MICROS_UTC, TS_MINUS5)
    return pl.DataFrame(
        {
            **_clay_keys(pop, r, rows),
            "Hard Bounced": r.bools(cm["bounce"][rows], BOOL_PLAIN, BOOL_EXCEL, BOOL_WORDS, BOOL_BLANK_FALSE),
            "Replied": r.bools(replied, BOOL_NUMERIC, BOOL_PLAIN, BOOL_BLANK_FALSE),
            "Reply Category": category,
            "Reply At": keep(reply_at, pl.Series(replied)),
        }
    )


def smartlead_frame(pop: Population, r: Renderer, campaign: int, taken_us: int) -> pl.DataFrame:
    """The leads-export of one Smartlead campaign (filler rows only)."""
    cm, lead = pop.cm, pop.lead
    rows = np.flatnonzero(cm["campaign"] == campaign)
    li = cm["lead"][rows]
    replied = cm["replied"][rows]
    category = keep(words(vocab.FILLER_CATEGORY_NAMES, cm["category"][rows]), pl.Series(replied))
    statuses = [s for s, _ in vocab.SMARTLEAD_STATUSES] + ["BLOCKED"]
    status = words(statuses, np.where(cm["bounce"][rows], len(statuses) - 1, cm["status"][rows]))
    sub = {k: v[li] for k, v in lead.items()}
    first, last = words(vocab.FIRST_NAMES, sub["first"]), words(vocab.LAST_NAMES, sub["last"])
    domain = domains(sub)
    return pl.DataFrame(
        {
            "id": pl.Series(SMARTLEAD_LEAD_BASE + li).cast(pl.String),
            "campaign_lead_map_id": pl.Series(SMARTLEAD_MAP_BASE + rows).cast(pl.String),
            "status": status,
            "category": category,
            "is_interested": r.bools(replied & np.isin(cm["category"][rows], [0, 1]), BOOL_PLAIN),
            "created_at": r.timestamps(taken_us - (60 + campaign) * 24 * HOUR + rows % 7200 * 1_000_000, TS_MILLIS_Z),
            "first_name": first,
            "last_name": last,
            "email": r.emails(pop.lead_emails.gather(li), 0.1, 0.0),
            "phone_number": blanks(len(rows)),
            "company_name": companies(sub),
            "website": "https://www." + domain,
            "location": words(vocab.CITIES, sub["city"]),
            "custom_fields": _custom_fields(pop, r, rows, sub),
            "linkedin_profile": blanks(len(rows)),
            "company_url": domain,
            "is_unsubscribed": r.bools(sub["opted_out"], BOOL_PLAIN),
            "unsubscribed_client_id_map": blanks(len(rows)),
            "last_email_sequence_sent": pl.Series(cm["sequence"][rows]).cast(pl.String),
            "open_count": pl.Series(np.zeros(len(rows), np.int64)).cast(pl.String),  # tracking off: always 0
            "click_count": pl.Series(np.zeros(len(rows), np.int64)).cast(pl.String),
            "reply_count": pl.Series(cm["reply_count"][rows]).cast(pl.String),
        }
    )


def _custom_fields(pop: Population, r: Renderer, rows: np.ndarray, sub: dict) -> pl.Series:
    """JSON text in a CSV cell; most rows carry the Salesforce Lead (15 or 18 chars) and Campaign ids."""
    with_ids = pl.Series(pop.cm["ids_in_custom_fields"][rows])
    frame = pl.DataFrame(
        {
            "job": words(vocab.JOB_TITLES, sub["job"]),
            "gbu": words(vocab.GBUS, sub["gbu"]),
            "lead": r.lead_ids(pop.lead_ids.gather(pop.cm["lead"][rows]), 0.3),
            "campaign": pl.Series(pop.campaign_ids).gather(pop.cm["campaign"][rows]),
            "ids": with_ids,
        }
    )
    ids = pl.concat_str(
        [
            pl.lit(', "sfdc_lead_id": "'),
            pl.col("lead"),
            pl.lit('", "sfdc_campaign_id": "'),
            pl.col("campaign"),
            pl.lit('"'),
        ]
    )
    return frame.select(
        pl.concat_str(
            [
                pl.lit('{"job_title": "'),
                pl.col("job"),
                pl.lit('", "gbu": "'),
                pl.col("gbu"),
                pl.lit('"'),
                pl.when(pl.col("ids")).then(ids).otherwise(pl.lit("")),
                pl.lit("}"),
            ]
        ).alias("cf")
    ).to_series()


def pardot_frame(pop: Population, r: Renderer, contact_of_lead: pl.Series) -> pl.DataFrame:
    lead = pop.lead
    rows = np.flatnonzero(lead["prospect"])
    k = len(rows)
    bounced = lead["pardot_bounce"][rows]
    bounce_us = pop.taken_us - lead["modstamp_age"][rows] - 2 * HOUR
    linked = pl.Series(pop.rng.random(k) >= 0.08)  # unsynced prospects: matched by email only
    contact = contact_of_lead.gather(rows)  # a converted lead's prospect keeps its Lead id and gains a Contact
    frame = pl.DataFrame(
        {
            "id": pl.Series(PARDOT_BASE + 3 * rows).cast(pl.String),
            "email": r.emails(pop.lead_emails.gather(rows), 0.05, 0.0),
            "salesforceLeadId": keep(pop.lead_ids.gather(rows), linked),
            "salesforceContactId": contact,
            "isEmailHardBounced": r.bools(bounced, BOOL_PLAIN, BOOL_NUMERIC),
            "emailBouncedAt": keep(r.timestamps(bounce_us, TS_MINUS5, TS_OFFSET_UTC), pl.Series(bounced)),
            "updatedAt": r.timestamps(bounce_us + HOUR, TS_MINUS5, TS_OFFSET_UTC),
        }
    )
    orphans = int(pop.n * RATES["orphan_prospects"])  # prospects of people no Lead holds: unmatched_source_row
    if orphans == 0:
        return frame
    numbers = pl.Series(np.arange(orphans, dtype=np.int64) + 900_000_000).cast(pl.String)
    orphan = pl.DataFrame(
        {
            "id": pl.Series(PARDOT_BASE - 1 - np.arange(orphans)).cast(pl.String),
            "email": "webinar.visitor" + numbers + "@gmail.com",
            "salesforceLeadId": blanks(orphans),
            "salesforceContactId": blanks(orphans),
            "isEmailHardBounced": r.bools(np.zeros(orphans, bool), BOOL_PLAIN),
            "emailBouncedAt": blanks(orphans),
            "updatedAt": r.timestamps(pop.taken_us - (np.arange(orphans) + 1) * HOUR, TS_MINUS5),
        }
    )
    return pl.concat([frame, orphan])


def error_frame(pop: Population, r: Renderer) -> pl.DataFrame:
    """The Clay connector's error log for the last two weeks (≈ one error per 2,000 leads)."""
    k = pop.n // 2000
    rng = pop.rng
    kind = rng.integers(0, len(CONNECTOR_ERRORS), k)
    objects = np.array([o for o, _, _ in CONNECTOR_ERRORS])[kind]
    lead_pick = pop.lead_ids.gather(rng.integers(0, max(pop.n, 1), k)) if pop.n else blanks(0)
    cm_pick = pop.cm_ids.gather(rng.integers(0, max(pop.m, 1), k)) if pop.m else blanks(0)
    record = lead_pick.zip_with(pl.Series(objects == "Lead"), cm_pick)
    return pl.DataFrame(
        {
            "time": r.timestamps(pop.taken_us - rng.integers(HOUR, 14 * 24 * HOUR, k), TS_Z),
            "object": pl.Series(objects, dtype=pl.String),
            "record id": record,
            "field": words([f for _, f, _ in CONNECTOR_ERRORS], kind),
            "message": words([msg for _, _, msg in CONNECTOR_ERRORS], kind),
        }
    )
