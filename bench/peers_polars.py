"""The rules of SPEC §4 as an expert would write them in lazy Polars: one query plan, one (streaming) collect.

Changes only (findings are not replicated): hard_bounce_union, enrichment_fill_if_blank, reply_set_once,
reply_classification_latest; identity by Lead id, else by an email that matches exactly one Lead.
Output: a Parquet file of (object, record_id, field, after, status).
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from bench.common import (
    BOUNCE_TYPES,
    EMAIL_STRIP,
    EVENT_TYPES,
    FALSE,
    ID_ALPHABET,
    REPLY_TYPES,
    SENDER_BOUNCE,
    TEXT_STRIP,
    TRUE,
    clay_files,
    one,
    policy_bits,
    rel,
    smartlead_files,
    sniff_delimiter,
    taken_at,
)

S = pl.String
# a 5-character upper-case mask (position j = bit j) → its checksum character
_CHUNK = {format(i, "05b")[::-1]: c for i, c in enumerate(ID_ALPHABET)}


# ------------------------------------------------------------------------------------------- value expressions


def id18(e: pl.Expr) -> pl.Expr:
    """Salesforce id → 18 characters (checksum computed for 15, verified for 18), else null."""
    t = e.str.strip_chars(" ")
    body = t.str.slice(0, 15)
    mask = body.str.replace_all("[^A-Z]", "0").str.replace_all("[A-Z]", "1")  # 1 where a letter is upper case
    chunks = [mask.str.slice(5 * k, 5).replace_strict(_CHUNK, default=None, return_dtype=S) for k in range(3)]
    suffix = pl.concat_str(chunks)
    ok = t.str.contains(r"^(?:[A-Za-z0-9]{15}|[A-Za-z0-9]{18})$")
    good = ok & ((t.str.len_chars() == 15) | (t.str.slice(15, 3).str.to_uppercase() == suffix))
    return pl.when(good).then(body + suffix)


def boolean(e: pl.Expr) -> pl.Expr:
    v = e.str.strip_chars(" ").str.to_lowercase()
    return pl.when(v.is_in(TRUE)).then(True).when(v.is_in(FALSE)).then(False).otherwise(False)


def email(e: pl.Expr) -> pl.Expr:
    v = e.str.strip_chars(EMAIL_STRIP).str.replace(r"^(?i)mailto:", "").str.to_lowercase()
    return pl.when(v != "").then(v)


def text(e: pl.Expr) -> pl.Expr:
    v = e.str.strip_chars(TEXT_STRIP)
    return pl.when(v != "").then(v)


def ts(e: pl.Expr) -> pl.Expr:
    return (
        e.str.strip_chars(" ")
        .str.replace(r"Z$", "+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False)
    )


# ------------------------------------------------------------------------------------------- reading


def scan(path: Path, want: dict[str, str], snap: Path) -> pl.LazyFrame:
    """One file, all text; `want` maps output name → header (case-insensitive); adds file and row."""
    if path.suffix == ".parquet":
        lf = pl.scan_parquet(path)
        names = lf.collect_schema().names()
    else:
        sep = sniff_delimiter(path)
        lf = pl.scan_csv(path, separator=sep, infer_schema=False, encoding="utf8-lossy")
        names = lf.collect_schema().names()
    by_lower = {n.lstrip("\ufeff").strip().lower(): n for n in names}
    cols = [
        pl.col(by_lower[h.lower()]).cast(S).alias(k) if h.lower() in by_lower else pl.lit(None, S).alias(k)
        for k, h in want.items()
    ]
    return lf.select(cols).with_row_index("row", offset=1).with_columns(file=pl.lit(rel(snap, path)))


def events(snap: Path) -> pl.LazyFrame:
    path = snap / "smartlead" / "events.jsonl"
    lf = pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None, schema={"line": S})
    j = pl.col("line").str.json_path_match

    def first(*paths):
        return pl.coalesce([j(p) for p in paths])

    lf = lf.with_row_index("row", offset=1).with_columns(
        t=first("$.event_type", "$.event").str.to_uppercase(), file=pl.lit(rel(snap, path))
    )
    lf = lf.filter(pl.col("t").is_in(EVENT_TYPES))
    cat_raw = j("$.lead_category")
    return lf.select(
        "file",
        "row",
        kind=pl.when(pl.col("t").is_in(BOUNCE_TYPES))
        .then(pl.lit("bounce"))
        .when(pl.col("t").is_in(REPLY_TYPES))
        .then(pl.lit("reply"))
        .otherwise(pl.lit("category")),
        email_norm=email(first("$.sl_lead_email", "$.lead_email", "$.lead_data.email", "$.lead.email", "$.to_email")),
        sl_campaign_id=text(first("$.campaign_id", "$.campaign.id")),
        map_id=text(first("$.sl_email_lead_map_id", "$.email_lead_map_id")),
        event_at=ts(first("$.event_timestamp", "$.timestamp", "$.time_replied", "$.time_sent", "$.created_at")),
        new_category=text(
            pl.coalesce(
                j("$.lead_category.new_name"), j("$.category"), pl.when(~cat_raw.str.starts_with("{")).then(cat_raw)
            )
        ),
        given_id=id18(first("$.lead_data.custom_fields.sfdc_lead_id", "$.custom_fields.sfdc_lead_id")),
    )


# ------------------------------------------------------------------------------------------- the rules


def plan(snap: Path) -> pl.LazyFrame:
    pol = policy_bits()
    cc = pol["clay"]
    clay_at, sl_at = taken_at(snap, "clay"), taken_at(snap, "smartlead")

    lead = scan(
        one(snap, "sfdc/Lead"),
        {
            "id": "Id",
            "email": "Email",
            "industry": "Industry",
            "company_description": "company_description__c",
            "ext": "external_hard_bounced__c",
            "conv": "IsConverted",
        },
        snap,
    ).select(
        lead_id=id18(pl.col("id")),
        email_norm=email(pl.col("email")),
        industry=pl.col("industry"),
        company_description=pl.col("company_description"),
        ext_hb=boolean(pl.col("ext")),
        converted=boolean(pl.col("conv")),
    )
    cm = scan(
        one(snap, "sfdc/CampaignMember"),
        {
            "id": "Id",
            "campaign": "CampaignId",
            "lead": "LeadId",
            "replied": "Has_Replied__c",
            "cls": "ReplyClassification__c",
        },
        snap,
    ).select(
        cm_id=id18(pl.col("id")),
        campaign_id=id18(pl.col("campaign")),
        lead_id=id18(pl.col("lead")),
        has_replied=boolean(pl.col("replied")),
        current=pl.col("cls"),
    )
    # Stage 1: the Salesforce tables, typed and normalised once (later steps read them several times).
    lead, cm = (f.lazy() for f in pl.collect_all([lead, cm], engine="streaming"))

    want = {
        k: cc[k]
        for k in (
            "campaign_member_id",
            "lead_id",
            "email",
            "company_description",
            "industry",
            "smartlead_campaign_id",
            "hard_bounced",
            "replied",
            "reply_category",
            "reply_at",
        )
    }
    clay = pl.concat([scan(p, want, snap) for p in clay_files(snap)], how="vertical").select(
        "file",
        "row",
        cm_id=id18(pl.col("campaign_member_id")),
        given_id=id18(pl.col("lead_id")),
        email_norm=email(pl.col("email")),
        company_description=text(pl.col("company_description")),
        industry=text(pl.col("industry")),
        sl_campaign_id=text(pl.col("smartlead_campaign_id")),
        hard_bounced=boolean(pl.col("hard_bounced")),
        replied=boolean(pl.col("replied")),
        reply_category=text(pl.col("reply_category")),
        reply_at=pl.coalesce(ts(pl.col("reply_at")), pl.lit(clay_at).dt.cast_time_unit("us")),
    )

    sl_want = {
        "map": "campaign_lead_map_id",
        "category": "category",
        "email": "email",
        "rc": "reply_count",
        "cf": "custom_fields",
    }
    sl = pl.concat(
        [scan(p, sl_want, snap).with_columns(camp=pl.lit(p.stem.split("-", 1)[1])) for p in smartlead_files(snap)],
        how="vertical",
    ).select(
        "file",
        "row",
        sl_campaign_id=text(pl.col("camp")),
        map_id=text(pl.col("map")),
        category=text(pl.col("category")),
        email_norm=email(pl.col("email")),
        reply_count=pl.col("rc").str.strip_chars(" ").cast(pl.Int64, strict=False).fill_null(0),
        given_id=id18(pl.col("cf").str.json_path_match("$.sfdc_lead_id")),
        sfdc_campaign_id=id18(pl.col("cf").str.json_path_match("$.sfdc_campaign_id")),
    )
    ev = events(snap)

    # identity: the Lead id a row carries, else an email that matches exactly one Lead
    known = lead.select("lead_id", found=pl.lit(True))
    by_email = (
        lead.filter(pl.col("email_norm").is_not_null())
        .group_by("email_norm")
        .agg(n=pl.len(), email_lead=pl.col("lead_id").min())
        .filter(pl.col("n") == 1)
        .drop("n")
    )

    def resolve(lf: pl.LazyFrame) -> pl.LazyFrame:
        return (
            lf.join(known, left_on="given_id", right_on="lead_id", how="left")
            .join(by_email, on="email_norm", how="left")
            .with_columns(
                lead_id=pl.when(pl.col("given_id").is_not_null())
                .then(pl.when(pl.col("found")).then(pl.col("given_id")))
                .otherwise(pl.col("email_lead"))
            )
            .drop("found", "email_lead")
        )

    # Stage 2: the source rows, typed and resolved to Leads, once.
    clay, sl, ev = (f.lazy() for f in pl.collect_all([resolve(clay), resolve(sl), resolve(ev)], engine="streaming"))

    # hard_bounce_union
    sender = (
        pl.concat(
            [
                sl.filter(pl.col("category").str.to_lowercase() == SENDER_BOUNCE).select("lead_id", "sl_campaign_id"),
                ev.filter(
                    (pl.col("kind") == "category") & (pl.col("new_category").str.to_lowercase() == SENDER_BOUNCE)
                ).select("lead_id", "sl_campaign_id"),
            ]
        )
        .filter(pl.col("lead_id").is_not_null())
        .unique()
    )
    bounced = pl.concat(
        [
            clay.filter(pl.col("hard_bounced")).select("lead_id"),
            ev.filter(pl.col("kind") == "bounce")
            .join(sender, on=["lead_id", "sl_campaign_id"], how="anti")
            .select("lead_id"),
        ]
    ).filter(pl.col("lead_id").is_not_null())
    hb = (
        lead.filter(~pl.col("ext_hb"))
        .join(bounced, on="lead_id", how="semi")
        .select(
            object=pl.lit("Lead"),
            record_id="lead_id",
            field=pl.lit("external_hard_bounced__c"),
            after=pl.lit("true"),
            blocked=pl.col("converted"),
        )
    )

    # enrichment_fill_if_blank
    matched = clay.filter(pl.col("lead_id").is_not_null())
    values = (
        pl.concat(
            [
                matched.filter(pl.col("company_description").is_not_null()).select(
                    "lead_id",
                    field=pl.lit("company_description__c"),
                    value="company_description",
                    norm="company_description",
                ),
                matched.filter(pl.col("industry").is_not_null()).select(
                    "lead_id", field=pl.lit("Industry"), value="industry", norm=pl.col("industry").str.to_lowercase()
                ),
            ]
        )
        .group_by("lead_id", "field")
        .agg(n=pl.col("norm").n_unique(), value=pl.col("value").min(), norm=pl.col("norm").min())
        .filter(pl.col("n") == 1)
    )
    current = pl.concat(
        [
            lead.select("lead_id", "converted", field=pl.lit("company_description__c"), current="company_description"),
            lead.select("lead_id", "converted", field=pl.lit("Industry"), current="industry"),
        ]
    )
    industry = pl.LazyFrame(
        {"field": ["Industry"] * len(pol["industry_picklist"]), "canonical": pol["industry_picklist"]}
    ).with_columns(norm=pl.col("canonical").str.strip_chars(" ").str.to_lowercase())
    cur_trim = pl.col("current").fill_null("").str.strip_chars(" ")
    is_ind = pl.col("field") == "Industry"
    enrich = (
        values.join(current, on=["lead_id", "field"])
        .join(industry, on=["field", "norm"], how="left")
        .with_columns(after=pl.when(is_ind).then(pl.coalesce("canonical", "value")).otherwise(pl.col("value")))
        .filter(
            (cur_trim == "")
            | (is_ind & (cur_trim.str.to_lowercase() != pl.col("after").str.to_lowercase()))
            | (~is_ind & (cur_trim != pl.col("after")))
        )
        .select("field", "after", object=pl.lit("Lead"), record_id="lead_id", blocked=pl.lit(True))
    )

    # CampaignMember identity
    cm_ids = cm.select("cm_id", cm_found=pl.lit(True))
    clay_cm = (
        clay.filter(pl.col("cm_id").is_not_null())
        .join(cm_ids, on="cm_id", how="left")
        .with_columns(pl.col("cm_found").fill_null(False))
    )
    clay_pairs = (
        clay_cm.filter(pl.col("cm_found") & pl.col("sl_campaign_id").is_not_null() & pl.col("email_norm").is_not_null())
        .group_by("sl_campaign_id", "email_norm")
        .agg(n=pl.col("cm_id").n_unique(), pair_cm=pl.col("cm_id").min())
        .filter(pl.col("n") == 1)
        .drop("n")
    )
    by_lead_campaign = (
        cm.filter(pl.col("lead_id").is_not_null())
        .group_by("lead_id", "campaign_id")
        .agg(n=pl.len(), lc_cm=pl.col("cm_id").min())
        .filter(pl.col("n") == 1)
        .drop("n")
    )
    sl_rows = (
        sl.join(clay_pairs, on=["sl_campaign_id", "email_norm"], how="left")
        .join(
            by_lead_campaign, left_on=["lead_id", "sfdc_campaign_id"], right_on=["lead_id", "campaign_id"], how="left"
        )
        .with_columns(cm_id=pl.coalesce("pair_cm", "lc_cm"))
        .filter(pl.col("cm_id").is_not_null())
    )
    by_map = (
        sl_rows.filter(pl.col("map_id").is_not_null())
        .group_by("sl_campaign_id", "map_id")
        .agg(map_cm=pl.col("cm_id").min())
    )
    ev_rows = (
        ev.join(clay_pairs, on=["sl_campaign_id", "email_norm"], how="left")
        .join(by_map, on=["sl_campaign_id", "map_id"], how="left")
        .with_columns(cm_id=pl.coalesce("pair_cm", "map_cm"))
        .filter(pl.col("cm_id").is_not_null())
    )
    clay_linked = clay_cm.filter(pl.col("cm_found"))

    # reply_set_once
    replied = pl.concat(
        [
            clay_linked.filter(pl.col("replied")).select("cm_id"),
            ev_rows.filter(pl.col("kind") == "reply").select("cm_id"),
            sl_rows.filter(pl.col("reply_count") > 0).select("cm_id"),
        ]
    )
    rs = (
        cm.filter(~pl.col("has_replied"))
        .join(replied, on="cm_id", how="semi")
        .select(
            object=pl.lit("CampaignMember"),
            record_id="cm_id",
            field=pl.lit("Has_Replied__c"),
            after=pl.lit("true"),
            blocked=pl.lit(False),
        )
    )

    # reply_classification_latest: latest event by time, ties → Clay, then by category (row order never matters)
    evs = pl.concat(
        [
            clay_linked.filter(pl.col("reply_category").is_not_null()).select(
                "cm_id", "file", "row", category="reply_category", event_at="reply_at", priority=pl.lit(0)
            ),
            ev_rows.filter(
                (pl.col("kind") == "category") & pl.col("new_category").is_not_null() & pl.col("event_at").is_not_null()
            ).select("cm_id", "file", "row", category="new_category", event_at="event_at", priority=pl.lit(1)),
            sl_rows.filter(pl.col("category").is_not_null()).select(
                "cm_id",
                "file",
                "row",
                category="category",
                event_at=pl.lit(sl_at).dt.cast_time_unit("us"),
                priority=pl.lit(1),
            ),
        ]
    )
    latest = (
        evs.with_columns(lc=pl.col("category").str.to_lowercase())
        .sort(
            ["cm_id", "event_at", "priority", "lc", "category", "file", "row"],
            descending=[False, True, False, False, False, False, False],
        )
        .unique("cm_id", keep="first", maintain_order=True)
    )
    replies = pl.LazyFrame({"canonical": pol["reply_picklist"]}).with_columns(
        norm=pl.col("canonical").str.strip_chars(" ").str.to_lowercase()
    )
    rc = (
        latest.join(cm.select("cm_id", "current"), on="cm_id")
        .with_columns(norm=pl.col("category").str.strip_chars(" ").str.to_lowercase())
        .join(replies, on="norm", how="left")
        .with_columns(after=pl.coalesce("canonical", "category"))
        .filter(
            pl.col("current").is_null()
            | (pl.col("current").str.strip_chars(" ").str.to_lowercase() != pl.col("after").str.to_lowercase())
        )
        .select(
            object=pl.lit("CampaignMember"),
            record_id="cm_id",
            field=pl.lit("ReplyClassification__c"),
            after="after",
            blocked=pl.col("canonical").is_null() | (pl.col("after").str.len_chars() > pol["reply_max"]),
        )
    )

    cols = ["object", "record_id", "field", "after", "blocked"]
    out = pl.concat([f.select(cols) for f in (hb, enrich, rs, rc)])
    return out.select(
        "object",
        "record_id",
        "field",
        "after",
        status=pl.when(pl.col("blocked")).then(pl.lit("blocked")).otherwise(pl.lit("ready")),
    )


def run(snap: Path, out: Path) -> int:
    df = plan(Path(snap)).collect(engine="streaming")
    df.write_parquet(out)
    return df.height


if __name__ == "__main__":
    print(run(Path(sys.argv[1]), Path(sys.argv[2])))
