"""The rules of SPEC §4 as an expert would write them in vectorised pandas: read_csv(dtype=str), merges, groupby,
numpy for the id checksum — no row loops. Changes only (findings are not replicated).
Output: a Parquet file of (object, record_id, field, after, status).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import (
    BOUNCE_TYPES,
    EMAIL_STRIP,
    EVENT_TYPES,
    REPLY_TYPES,
    SENDER_BOUNCE,
    TEXT_STRIP,
    TRUE,
    clay_files,
    id18_numpy,
    one,
    policy_bits,
    rel,
    smartlead_files,
    sniff_delimiter,
    taken_at,
)


def id18(s: pd.Series) -> pd.Series:
    return pd.Series(id18_numpy(s.to_numpy(dtype=object, na_value=None)), index=s.index, dtype=object)


def boolean(s: pd.Series) -> pd.Series:
    return s.str.strip(" ").str.lower().isin(TRUE)


def email(s: pd.Series) -> pd.Series:
    v = s.str.strip(EMAIL_STRIP).str.replace(r"^(?i:mailto:)", "", regex=True).str.lower()
    return v.where(v != "")


def text(s: pd.Series) -> pd.Series:
    v = s.str.strip(TEXT_STRIP)
    return v.where(v != "")


def ts(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.str.strip(" "), format="ISO8601", utc=True, errors="coerce")


def read(path: Path, want: dict[str, str], snap: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(
            path, sep=sniff_delimiter(path), dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
        )
    by_lower = {c.strip().lower(): c for c in df.columns}
    out = pd.DataFrame(
        {
            k: df[by_lower[h.lower()]] if h.lower() in by_lower else pd.Series(None, index=df.index, dtype=object)
            for k, h in want.items()
        }
    )
    out["file"] = rel(snap, path)
    out["row"] = np.arange(1, len(out) + 1)
    return out


def events(snap: Path) -> pd.DataFrame:
    path = snap / "smartlead" / "events.jsonl"
    raw = pd.read_json(path, lines=True, dtype=False)
    raw["row"] = np.arange(1, len(raw) + 1)
    raw["file"] = rel(snap, path)

    def col(name):
        return raw[name] if name in raw else pd.Series(None, index=raw.index, dtype=object)

    def as_text(s):
        return (
            s.map(lambda x: None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))
            if s.dtype != object
            else s.where(s.notna(), None).map(lambda x: x if x is None or isinstance(x, str) else str(x))
        )

    def nested(name, key):
        return col(name).map(lambda d: d.get(key) if isinstance(d, dict) else None)

    def first(*series):
        out = series[0]
        for s in series[1:]:
            out = out.combine_first(s)
        return out

    t = first(col("event_type"), col("event")).str.upper()
    keep = t.isin(EVENT_TYPES)
    raw, t = raw[keep], t[keep]
    lc = col("lead_category")
    ld = col("lead_data")
    return pd.DataFrame(
        {
            "file": raw["file"],
            "row": raw["row"],
            "kind": np.where(t.isin(BOUNCE_TYPES), "bounce", np.where(t.isin(REPLY_TYPES), "reply", "category")),
            "email_norm": email(
                first(
                    col("sl_lead_email"),
                    col("lead_email"),
                    nested("lead_data", "email"),
                    nested("lead", "email"),
                    col("to_email"),
                )
            ),
            "sl_campaign_id": text(as_text(first(col("campaign_id"), nested("campaign", "id")))),
            "map_id": text(as_text(first(col("sl_email_lead_map_id"), col("email_lead_map_id")))),
            "event_at": ts(
                as_text(
                    first(
                        col("event_timestamp"),
                        col("timestamp"),
                        col("time_replied"),
                        col("time_sent"),
                        col("created_at"),
                    )
                )
            ),
            "new_category": text(
                first(
                    nested("lead_category", "new_name"),
                    col("category"),
                    lc.where(lc.map(lambda x: isinstance(x, str)), None),
                )
            ),
            "given_id": id18(
                first(
                    ld.map(
                        lambda d: (d.get("custom_fields") or {}).get("sfdc_lead_id") if isinstance(d, dict) else None
                    ),
                    col("custom_fields").map(lambda d: d.get("sfdc_lead_id") if isinstance(d, dict) else None),
                )
            ),
        }
    )


def json_field(s: pd.Series, key: str) -> pd.Series:
    return s.str.extract(r'"' + key + r'"\s*:\s*"([^"]*)"', expand=False)


def plan(snap: Path) -> pd.DataFrame:
    pol = policy_bits()
    cc = pol["clay"]
    clay_at, sl_at = pd.Timestamp(taken_at(snap, "clay")), pd.Timestamp(taken_at(snap, "smartlead"))

    raw = read(
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
    )
    lead = pd.DataFrame(
        {
            "lead_id": id18(raw["id"]),
            "email_norm": email(raw["email"]),
            "industry": raw["industry"],
            "company_description": raw["company_description"],
            "ext_hb": boolean(raw["ext"]),
            "converted": boolean(raw["conv"]),
        }
    )
    raw = read(
        one(snap, "sfdc/CampaignMember"),
        {
            "id": "Id",
            "campaign": "CampaignId",
            "lead": "LeadId",
            "replied": "Has_Replied__c",
            "cls": "ReplyClassification__c",
        },
        snap,
    )
    cm = pd.DataFrame(
        {
            "cm_id": id18(raw["id"]),
            "campaign_id": id18(raw["campaign"]),
            "lead_id": id18(raw["lead"]),
            "has_replied": boolean(raw["replied"]),
            "current": raw["cls"],
        }
    )

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
    raw = pd.concat([read(p, want, snap) for p in clay_files(snap)], ignore_index=True)
    clay = pd.DataFrame(
        {
            "file": raw["file"],
            "row": raw["row"],
            "cm_id": id18(raw["campaign_member_id"]),
            "given_id": id18(raw["lead_id"]),
            "email_norm": email(raw["email"]),
            "company_description": text(raw["company_description"]),
            "industry": text(raw["industry"]),
            "sl_campaign_id": text(raw["smartlead_campaign_id"]),
            "hard_bounced": boolean(raw["hard_bounced"]),
            "replied": boolean(raw["replied"]),
            "reply_category": text(raw["reply_category"]),
            "reply_at": ts(raw["reply_at"]).fillna(clay_at),
        }
    )
    sl_want = {
        "map": "campaign_lead_map_id",
        "category": "category",
        "email": "email",
        "rc": "reply_count",
        "cf": "custom_fields",
    }
    raw = pd.concat(
        [read(p, sl_want, snap).assign(camp=p.stem.split("-", 1)[1]) for p in smartlead_files(snap)], ignore_index=True
    )
    sl = pd.DataFrame(
        {
            "file": raw["file"],
            "row": raw["row"],
            "sl_campaign_id": text(raw["camp"]),
            "map_id": text(raw["map"]),
            "category": text(raw["category"]),
            "email_norm": email(raw["email"]),
            "reply_count": pd.to_numeric(raw["rc"].str.strip(" "), errors="coerce").fillna(0),
            "given_id": id18(json_field(raw["cf"], "sfdc_lead_id")),
            "sfdc_campaign_id": id18(json_field(raw["cf"], "sfdc_campaign_id")),
        }
    )
    ev = events(snap)

    # identity
    known = lead[["lead_id"]].assign(found=True)
    by_email = (
        lead.dropna(subset=["email_norm"])
        .groupby("email_norm")["lead_id"]
        .agg(["size", "min"])
        .query("size == 1")["min"]
        .rename("email_lead")
        .reset_index()
    )

    def resolve(df):
        df = df.merge(known, left_on="given_id", right_on="lead_id", how="left").drop(columns="lead_id")
        df = df.merge(by_email, on="email_norm", how="left")
        df["lead_id"] = np.where(df["given_id"].notna(), df["given_id"].where(df["found"].eq(True)), df["email_lead"])
        df["lead_id"] = df["lead_id"].where(df["lead_id"].notna(), None)
        return df.drop(columns=["found", "email_lead"])

    clay, sl, ev = resolve(clay), resolve(sl), resolve(ev)

    # hard_bounce_union
    sender = (
        pd.concat(
            [
                sl.loc[sl["category"].str.lower().eq(SENDER_BOUNCE), ["lead_id", "sl_campaign_id"]],
                ev.loc[
                    ev["kind"].eq("category") & ev["new_category"].str.lower().eq(SENDER_BOUNCE),
                    ["lead_id", "sl_campaign_id"],
                ],
            ]
        )
        .dropna()
        .drop_duplicates()
    )
    evb = ev[ev["kind"].eq("bounce")].merge(sender.assign(sender=True), on=["lead_id", "sl_campaign_id"], how="left")
    bounced = pd.concat([clay.loc[clay["hard_bounced"], "lead_id"], evb.loc[evb["sender"].isna(), "lead_id"]]).dropna()
    hb = lead[~lead["ext_hb"] & lead["lead_id"].isin(bounced)]
    hb = pd.DataFrame(
        {
            "object": "Lead",
            "record_id": hb["lead_id"],
            "field": "external_hard_bounced__c",
            "after": "true",
            "blocked": hb["converted"],
        }
    )

    # enrichment_fill_if_blank
    m = clay[clay["lead_id"].notna()]
    d = m.loc[m["company_description"].notna(), ["lead_id", "company_description"]]
    i = m.loc[m["industry"].notna(), ["lead_id", "industry"]]
    values = pd.concat(
        [
            pd.DataFrame(
                {
                    "lead_id": d["lead_id"],
                    "field": "company_description__c",
                    "value": d["company_description"],
                    "norm": d["company_description"],
                }
            ),
            pd.DataFrame(
                {
                    "lead_id": i["lead_id"],
                    "field": "Industry",
                    "value": i["industry"],
                    "norm": i["industry"].str.lower(),
                }
            ),
        ]
    )
    values = (
        values.groupby(["lead_id", "field"])
        .agg(n=("norm", "nunique"), value=("value", "min"), norm=("norm", "min"))
        .reset_index()
        .query("n == 1")
    )
    current = pd.concat(
        [
            lead[["lead_id"]].assign(field="company_description__c", current=lead["company_description"]),
            lead[["lead_id"]].assign(field="Industry", current=lead["industry"]),
        ]
    )
    picks = pd.DataFrame({"field": "Industry", "canonical": pol["industry_picklist"]})
    picks["norm"] = picks["canonical"].str.strip(" ").str.lower()
    e = values.merge(current, on=["lead_id", "field"]).merge(picks, on=["field", "norm"], how="left")
    ind = e["field"].eq("Industry")
    e["after"] = np.where(ind, e["canonical"].fillna(e["value"]), e["value"])
    cur = e["current"].fillna("").str.strip(" ")
    e = e[cur.eq("") | (ind & cur.str.lower().ne(e["after"].str.lower())) | (~ind & cur.ne(e["after"]))]
    enrich = pd.DataFrame(
        {"object": "Lead", "record_id": e["lead_id"], "field": e["field"], "after": e["after"], "blocked": True}
    )

    # CampaignMember identity
    cm_ids = set(cm["cm_id"].dropna())
    clay_cm = clay[clay["cm_id"].notna()].assign(cm_found=lambda f: f["cm_id"].isin(cm_ids))
    pairs = clay_cm[clay_cm["cm_found"] & clay_cm["sl_campaign_id"].notna() & clay_cm["email_norm"].notna()]
    pairs = (
        pairs.groupby(["sl_campaign_id", "email_norm"])["cm_id"]
        .agg(["nunique", "min"])
        .query("nunique == 1")["min"]
        .rename("pair_cm")
        .reset_index()
    )
    blc = (
        cm[cm["lead_id"].notna()]
        .groupby(["lead_id", "campaign_id"])["cm_id"]
        .agg(["size", "min"])
        .query("size == 1")["min"]
        .rename("lc_cm")
        .reset_index()
    )
    sl_rows = sl.merge(pairs, on=["sl_campaign_id", "email_norm"], how="left").merge(
        blc, left_on=["lead_id", "sfdc_campaign_id"], right_on=["lead_id", "campaign_id"], how="left"
    )
    sl_rows["cm_id"] = sl_rows["pair_cm"].combine_first(sl_rows["lc_cm"])
    sl_rows = sl_rows[sl_rows["cm_id"].notna()]
    by_map = (
        sl_rows[sl_rows["map_id"].notna()]
        .groupby(["sl_campaign_id", "map_id"])["cm_id"]
        .min()
        .rename("map_cm")
        .reset_index()
    )
    ev_rows = ev.merge(pairs, on=["sl_campaign_id", "email_norm"], how="left").merge(
        by_map, on=["sl_campaign_id", "map_id"], how="left"
    )
    ev_rows["cm_id"] = ev_rows["pair_cm"].combine_first(ev_rows["map_cm"])
    ev_rows = ev_rows[ev_rows["cm_id"].notna()]
    linked = clay_cm[clay_cm["cm_found"]]

    # reply_set_once
    replied = pd.concat(
        [
            linked.loc[linked["replied"], "cm_id"],
            ev_rows.loc[ev_rows["kind"].eq("reply"), "cm_id"],
            sl_rows.loc[sl_rows["reply_count"] > 0, "cm_id"],
        ]
    )
    r = cm[~cm["has_replied"] & cm["cm_id"].isin(replied)]
    rs = pd.DataFrame(
        {
            "object": "CampaignMember",
            "record_id": r["cm_id"],
            "field": "Has_Replied__c",
            "after": "true",
            "blocked": False,
        }
    )

    # reply_classification_latest: latest by time, ties → Clay, then by category (row order never matters)
    c = linked[linked["reply_category"].notna()]
    k = ev_rows[ev_rows["kind"].eq("category") & ev_rows["new_category"].notna() & ev_rows["event_at"].notna()]
    s = sl_rows[sl_rows["category"].notna()]
    evs = pd.concat(
        [
            pd.DataFrame(
                {
                    "cm_id": c["cm_id"],
                    "category": c["reply_category"],
                    "event_at": c["reply_at"],
                    "priority": 0,
                    "file": c["file"],
                    "row": c["row"],
                }
            ),
            pd.DataFrame(
                {
                    "cm_id": k["cm_id"],
                    "category": k["new_category"],
                    "event_at": k["event_at"],
                    "priority": 1,
                    "file": k["file"],
                    "row": k["row"],
                }
            ),
            pd.DataFrame(
                {
                    "cm_id": s["cm_id"],
                    "category": s["category"],
                    "event_at": sl_at,
                    "priority": 1,
                    "file": s["file"],
                    "row": s["row"],
                }
            ),
        ],
        ignore_index=True,
    )
    evs["lc"] = evs["category"].str.lower()
    latest = evs.sort_values(
        ["cm_id", "event_at", "priority", "lc", "category", "file", "row"],
        ascending=[True, False, True, True, True, True, True],
    ).drop_duplicates("cm_id")
    rp = pd.DataFrame({"canonical": pol["reply_picklist"]})
    rp["norm"] = rp["canonical"].str.strip(" ").str.lower()
    x = latest.merge(cm[["cm_id", "current"]], on="cm_id").assign(
        norm=lambda f: f["category"].str.strip(" ").str.lower()
    )
    x = x.merge(rp, on="norm", how="left")
    x["after"] = x["canonical"].fillna(x["category"])
    x = x[x["current"].isna() | x["current"].str.strip(" ").str.lower().ne(x["after"].str.lower())]
    rc = pd.DataFrame(
        {
            "object": "CampaignMember",
            "record_id": x["cm_id"],
            "field": "ReplyClassification__c",
            "after": x["after"],
            "blocked": x["canonical"].isna() | (x["after"].str.len() > pol["reply_max"]),
        }
    )

    out = pd.concat([hb, enrich, rs, rc], ignore_index=True)
    out["status"] = np.where(out["blocked"].astype(bool), "blocked", "ready")
    return out[["object", "record_id", "field", "after", "status"]]


def run(snap: Path, out: Path) -> int:
    df = plan(Path(snap))
    df.to_parquet(out, index=False)
    return len(df)


if __name__ == "__main__":
    print(run(Path(sys.argv[1]), Path(sys.argv[2])))
