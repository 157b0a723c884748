"""The filler population: one latent "truth" per lead and per campaign member, drawn vectorised with numpy.

Every source file is rendered from these arrays, so the sources agree with each other except at the small,
deliberate rates below: each rate makes a few of one SPEC §4 case per thousand records.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from . import vocab
from .ids import CAMPAIGN, CAMPAIGN_MEMBER, CONTACT, LEAD, id_series
from .render import weighted_choice

N_CAMPAIGNS = 20
SMARTLEAD_CAMPAIGN_BASE = 9181  # Smartlead campaign ids are small integers (source_schemas §1.9)
HOUR = 3_600_000_000
DAY = 24 * HOUR

RATES = {
    "second_campaign": 0.5,  # ~1.5 campaign members per lead
    "clay_row": 0.6,  # Clay rows for ~60% of campaign members
    "events": 0.1,  # webhook events for ~10% of campaign members
    "prospect": 0.7,  # Pardot prospects for ~70% of leads
    "opted_out": 0.04,
    "converted": 0.03,
    "recipient_bounce": 0.01,  # Smartlead/Clay hard bounce evidence
    "bounce_already_synced": 0.95,  # … already in external_hard_bounced__c (else: hard_bounce_union change)
    "external_without_evidence": 0.002,  # external true, no evidence: never cleared
    "pardot_bounce": 0.02,
    "pardot_sync_gap": 0.02,  # of Pardot bounces, not in pi__pardot_hard_bounced__c
    "overall_mismatch": 0.0005,
    "eligibility_mismatch": 0.001,
    "replied": 0.06,
    "reply_not_synced": 0.03,  # reply_set_once change
    "class_not_synced": 0.03,  # reply_classification_latest change
    "replied_without_evidence": 0.002,
    "invalid_without_bounce": 0.001,  # deliverability_review
    "description_found": 0.9,
    "sfdc_description_blank": 0.008,  # fill (pending_legal)
    "sfdc_description_whitespace": 0.002,
    "sfdc_description_different": 0.005,  # overwrite_not_approved
    "sfdc_industry_blank": 0.01,
    "sfdc_industry_different": 0.005,
    "clay_duplicate": 0.01,
    "custom_fields_without_ids": 0.07,  # only where a Clay row carries the CampaignMemberId
    "contact_members": 0.01,
    "extra_contacts": 0.03,
    "orphan_prospects": 0.0002,
}

# Day profiles of the filler population: `quiet` (the RATES above: an ordinary day, ~2.5 % of leads with a
# change) and `backfill` (a first run against an org the connector never filled: most leads lack the enrichment
# Clay holds, replies and classifications were never synced — well over 60 % of leads get a change).
PROFILES = {
    "quiet": {},
    "backfill": {
        "sfdc_description_blank": 0.8,
        "sfdc_description_whitespace": 0.02,
        "sfdc_description_different": 0.03,
        "sfdc_industry_blank": 0.8,
        "sfdc_industry_different": 0.03,
        "replied": 0.2,
        "reply_not_synced": 0.6,
        "class_not_synced": 0.4,
        "bounce_already_synced": 0.3,
        "clay_row": 0.75,
    },
}


@contextlib.contextmanager
def profile_rates(profile: str):
    """RATES as the day profile sets them, for the duration of one generation (restored after)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown day profile {profile!r}: one of {', '.join(PROFILES)}")
    saved = dict(RATES)
    RATES.update(PROFILES[profile])
    try:
        yield
    finally:
        RATES.clear()
        RATES.update(saved)


@dataclass
class Population:
    n: int  # filler leads
    rng: np.random.Generator
    taken_us: int  # the Salesforce snapshot instant
    lead: dict[str, np.ndarray]
    cm: dict[str, np.ndarray]
    lead_ids: pl.Series
    lead_emails: pl.Series
    cm_ids: pl.Series
    campaign_ids: list[str]
    campaign_sl_ids: list[int]

    @property
    def m(self) -> int:
        return len(self.cm["lead"])


def campaign_catalogue() -> tuple[list[str], list[int]]:
    """The 20 Salesforce campaign ids and the Smartlead campaign each one runs in (fixed, seed-independent)."""
    ids = id_series(CAMPAIGN, "5g", N_CAMPAIGNS, salt=3).to_list()
    return ids, [SMARTLEAD_CAMPAIGN_BASE + 23 * k for k in range(N_CAMPAIGNS)]


def draw_population(n: int, seed: int, taken_us: int) -> Population:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20261127]))
    lead = _draw_leads(rng, n)
    cm = _draw_members(rng, lead, n, taken_us)
    _draw_lead_states(rng, lead, cm, n)
    campaign_ids, sl_ids = campaign_catalogue()
    return Population(
        n=n,
        rng=rng,
        taken_us=taken_us,
        lead=lead,
        cm=cm,
        lead_ids=id_series(LEAD, "5g", n, salt=1),
        lead_emails=lead_emails(lead, n),
        cm_ids=id_series(CAMPAIGN_MEMBER, "5g", len(cm["lead"]), salt=4),
        campaign_ids=campaign_ids,
        campaign_sl_ids=sl_ids,
    )


def _draw_leads(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    def pick(words: list) -> np.ndarray:
        return rng.integers(0, len(words), size=n)

    lead = {
        "first": pick(vocab.FIRST_NAMES),
        "last": pick(vocab.LAST_NAMES),
        "stem": pick(vocab.COMPANY_STEMS),
        "kind": pick(vocab.COMPANY_KINDS),
        "legal": pick(vocab.LEGAL_FORMS),
        "tld": pick(vocab.TLDS),
        "city": pick(vocab.CITIES),
        "product": pick(vocab.PRODUCTS),
        "market": pick(vocab.MARKETS),
        "industry": pick(vocab.INDUSTRIES),
        "gbu": pick(vocab.GBUS),
        "status": pick(vocab.LEAD_STATUSES),
        "job": pick(vocab.JOB_TITLES),
    }
    for name in ("opted_out", "converted", "recipient_bounce", "pardot_bounce", "prospect"):
        lead[name] = rng.random(n) < RATES[name]
    lead["pardot_bounce"] &= lead["prospect"]
    lead["modstamp_age"] = rng.integers(DAY // 24, 120 * DAY, size=n)
    return lead


def _draw_members(rng: np.random.Generator, lead: dict, n: int, taken_us: int) -> dict[str, np.ndarray]:
    second = np.flatnonzero(rng.random(n) < RATES["second_campaign"])
    first_campaign = rng.integers(0, N_CAMPAIGNS, size=n)
    second_campaign = (first_campaign[second] + rng.integers(1, N_CAMPAIGNS, size=len(second))) % N_CAMPAIGNS
    members = np.concatenate([np.arange(n), second])
    m = len(members)
    bounce_member = np.zeros(m, dtype=bool)
    bounce_member[:n] = lead["recipient_bounce"]  # the bounce happened in the lead's first campaign
    replied = (rng.random(m) < RATES["replied"]) & ~bounce_member
    clay = rng.random(m) < np.where(bounce_member, 0.95, RATES["clay_row"])
    cm = {
        "lead": members,
        "campaign": np.concatenate([first_campaign, second_campaign]),
        "clay": clay,
        "replied": replied,
        "bounce": bounce_member,
        "events": (rng.random(m) < RATES["events"]) | bounce_member,
        "category": weighted_choice(rng, vocab.FILLER_CATEGORIES, m),
        "reply_us": taken_us - rng.integers(4 * HOUR, 45 * DAY, size=m),
        "clay_lag_us": rng.integers(15 * 60_000_000, 30 * 60_000_000, size=m),
        "category_lag_us": rng.integers(60_000_000, 2 * HOUR, size=m),
        "reply_count": np.where(replied, rng.integers(1, 4, size=m), 0),
        "sequence": rng.integers(1, 5, size=m),
        "status": pick_statuses(rng, m),
    }
    cm["sfdc_replied"] = (replied & (rng.random(m) >= RATES["reply_not_synced"])) | (
        ~replied & (rng.random(m) < RATES["replied_without_evidence"])
    )
    drift = rng.random(m) < RATES["class_not_synced"]
    other = (cm["category"] + rng.integers(1, len(vocab.FILLER_CATEGORIES), size=m)) % len(vocab.FILLER_CATEGORIES)
    # -1 = blank; a drifted classification is either blank or another category
    cm["sfdc_class"] = np.where(
        replied & ~drift, cm["category"], np.where(replied & drift & (rng.random(m) < 0.5), other, -1)
    )
    cm["ids_in_custom_fields"] = ~(clay & (rng.random(m) < RATES["custom_fields_without_ids"]))
    return cm


def pick_statuses(rng: np.random.Generator, m: int) -> np.ndarray:
    return weighted_choice(rng, vocab.SMARTLEAD_STATUSES, m)


def _draw_lead_states(rng: np.random.Generator, lead: dict, cm: dict, n: int) -> None:
    has_clay = np.zeros(n, dtype=bool)
    np.logical_or.at(has_clay, cm["lead"][cm["clay"]], True)
    lead["has_clay"] = has_clay
    bounce = lead["recipient_bounce"]
    lead["external"] = np.where(
        bounce, rng.random(n) < RATES["bounce_already_synced"], rng.random(n) < RATES["external_without_evidence"]
    )
    lead["pi"] = lead["pardot_bounce"] & (rng.random(n) >= RATES["pardot_sync_gap"])
    overall = lead["pi"] | lead["external"]
    lead["overall"] = overall ^ (rng.random(n) < RATES["overall_mismatch"])
    eligible = ~lead["opted_out"] & ~lead["overall"] & ~lead["converted"]  # converted → Contact shares email
    lead["eligible"] = eligible ^ (rng.random(n) < RATES["eligibility_mismatch"])
    lead["description_found"] = has_clay & (rng.random(n) < RATES["description_found"])
    u = rng.random(n)
    blank = RATES["sfdc_description_blank"]
    space = blank + RATES["sfdc_description_whitespace"]
    differ = space + RATES["sfdc_description_different"]
    # 0 = equal to Clay's value, 1 = NULL, 2 = whitespace, 3 = a different text
    state = np.select([u < blank, u < space, u < differ], [1, 2, 3], 0)
    lead["description_state"] = np.where(lead["description_found"], state, np.where(u < 0.4, 1, 3))
    v = rng.random(n)
    industry_state = np.select(
        [v < RATES["sfdc_industry_blank"], v < RATES["sfdc_industry_blank"] + RATES["sfdc_industry_different"]],
        [1, 3],
        0,
    )
    lead["industry_state"] = np.where(lead["description_found"], industry_state, np.where(v < 0.2, 1, 0))
    lead["industry_lowercase"] = rng.random(n) < 0.5
    invalid = np.where(bounce, rng.random(n) < 0.7, rng.random(n) < RATES["invalid_without_bounce"])
    lead["validation"] = np.where(invalid, -1, weighted_choice(rng, vocab.EMAIL_VALIDATION, n))


def keep(values: pl.Series, mask, fill: str | None = "") -> pl.Series:
    """`values` where `mask` is true, else `fill` (a string or None)."""
    mask = mask if isinstance(mask, pl.Series) else pl.Series(np.asarray(mask, dtype=bool))
    return values.zip_with(mask, pl.repeat(fill, len(values), dtype=pl.String, eager=True))


def blanks(count: int) -> pl.Series:
    return pl.repeat("", count, dtype=pl.String, eager=True)


def words(values: list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(index)


def lead_emails(lead: dict, n: int) -> pl.Series:
    """Unique filler emails: the running number makes them unique, so filler never matches ambiguously."""
    frame = pl.DataFrame(
        {
            "f": words(vocab.FIRST_NAMES, lead["first"]),
            "l": words(vocab.LAST_NAMES, lead["last"]),
            "n": np.arange(n, dtype=np.int64) + 1000,
            "d": domains(lead),
        }
    )
    return frame.select(
        pl.concat_str(
            [
                pl.col("f").str.to_lowercase(),
                pl.lit("."),
                pl.col("l").str.to_lowercase().str.replace_all(" ", ""),
                pl.col("n").cast(pl.String),
                pl.lit("@"),
                pl.col("d"),
            ]
        ).alias("email")
    ).to_series()


def domains(lead: dict) -> pl.Series:
    frame = pl.DataFrame(
        {
            "s": words(vocab.COMPANY_STEMS, lead["stem"]),
            "k": words(vocab.COMPANY_KINDS, lead["kind"]),
            "t": words(vocab.TLDS, lead["tld"]),
        }
    )
    return frame.select(
        pl.concat_str([pl.col("s"), pl.lit("-"), pl.col("k"), pl.col("t")]).str.to_lowercase().alias("d")
    ).to_series()


def companies(lead: dict) -> pl.Series:
    frame = pl.DataFrame(
        {
            "s": words(vocab.COMPANY_STEMS, lead["stem"]),
            "k": words(vocab.COMPANY_KINDS, lead["kind"]),
            "g": words(vocab.LEGAL_FORMS, lead["legal"]),
        }
    )
    return frame.select(pl.concat_str([pl.col("s"), pl.col("k"), pl.col("g")], separator=" ").alias("c")).to_series()


def clay_descriptions(lead: dict) -> pl.Series:
    """The enrichment text Clay found for each lead's company (≤ 255 characters)."""
    frame = pl.DataFrame(
        {
            "c": companies(lead),
            "p": words(vocab.PRODUCTS, lead["product"]),
            "m": words(vocab.MARKETS, lead["market"]),
            "t": words(vocab.CITIES, lead["city"]),
        }
    )
    return frame.select(
        pl.concat_str(
            [
                pl.col("c"),
                pl.lit(" develops "),
                pl.col("p"),
                pl.lit(" for the "),
                pl.col("m"),
                pl.lit(" market from its headquarters in "),
                pl.col("t"),
                pl.lit("."),
            ]
        ).alias("d")
    ).to_series()


def sfdc_own_descriptions(lead: dict) -> pl.Series:
    """A description someone typed into Salesforce (differs from Clay's)."""
    frame = pl.DataFrame({"k": words(vocab.COMPANY_KINDS, lead["kind"]), "t": words(vocab.CITIES, lead["city"])})
    return frame.select(
        pl.concat_str(
            [
                pl.lit("Supplier of "),
                pl.col("k").str.to_lowercase(),
                pl.lit(" based in "),
                pl.col("t"),
                pl.lit(". Met at K-Show."),
            ]
        ).alias("d")
    ).to_series()


def contact_ids(count: int) -> pl.Series:
    return id_series(CONTACT, "5g", count, salt=2)
