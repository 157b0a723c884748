"""generate_snapshot: the filler population plus the scenario catalogue, written as one snapshot directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from . import events as ev
from . import filler_sfdc as sf
from . import filler_sources as src
from .builder import ScenarioBuilder
from .ids import sf_id18
from .population import N_CAMPAIGNS, blanks, campaign_catalogue, contact_ids, draw_population, profile_rates
from .render import Renderer, parse_instant
from .scenarios import build_all
from .writers import SnapshotWriter
from ..clock import ISO_FORMAT

# How long before the Salesforce snapshot each other source was pulled.
SOURCE_LAG = {
    "sfdc": timedelta(0),
    "clay": timedelta(minutes=10),
    "smartlead": timedelta(hours=3),
    "pardot": timedelta(hours=1),
}
ORG_ID = sf_id18("00D5g000004DeMo")


def generate_snapshot(
    out_dir: Path,
    leads: int = 200,
    seed: int = 7,
    taken_at: str = "2026-11-27T06:00:00Z",
    quirks: bool = True,
    formats: str = "csv",
    profile: str = "quiet",
) -> dict:
    """Write a demo snapshot directory (SPEC §2) and return its counts and scenario catalogue.

    `leads` is the number of Lead rows (scenario leads included; at least the scenario leads are written).
    `profile` is the filler population's day (population.PROFILES: "quiet", "backfill").
    Same arguments → byte-identical files.
    """
    with profile_rates(profile):
        return _generate(out_dir, leads, seed, taken_at, quirks, formats)


def _generate(out_dir, leads: int, seed: int, taken_at: str, quirks: bool, formats: str) -> dict:
    out_dir = Path(out_dir)
    taken_us = parse_instant(taken_at)
    source_taken = {k: taken_us - int(lag.total_seconds() * 1_000_000) for k, lag in SOURCE_LAG.items()}
    writer = SnapshotWriter(out_dir, formats, quirks)
    campaign_ids, sl_ids = campaign_catalogue()
    builder = ScenarioBuilder(Renderer(quirks, np.random.default_rng(seed)), taken_us, campaign_ids, sl_ids)
    build_all(builder)
    scenario_leads = len(builder.rows["lead"])
    pop = draw_population(max(leads - scenario_leads, 0), seed, taken_us)
    r = Renderer(quirks, np.random.default_rng(np.random.SeedSequence([seed, 2])))
    rows = builder.rows

    _write_sfdc(writer, pop, r, rows)
    _write_clay(writer, pop, r, rows)
    _write_smartlead(writer, pop, r, rows, source_taken["smartlead"])
    contact_of_lead = _contact_of_lead(pop)
    writer.table("pardot/prospects", _with(src.pardot_frame(pop, r, contact_of_lead), rows["pardot"]), bom=True)
    writer.manifest(
        ORG_ID,
        f"Synthetic demo snapshot from reconcile.demo_data (seed {seed}, {leads} leads, "
        f"quirks {'on' if quirks else 'off'}). No real customer data.",
        {k: _iso(v) for k, v in source_taken.items()},
    )
    return {
        "out_dir": str(out_dir),
        "files": dict(sorted(writer.files.items())),
        "leads": pop.n + scenario_leads,
        "filler_leads": pop.n,
        "scenario_leads": scenario_leads,
        "scenarios": {
            s.name: {"covers": s.covers, "records": s.records, "expect": s.expect} for s in builder.catalogue
        },
    }


def _with(frame: pl.DataFrame, extra: list[dict]) -> pl.DataFrame:
    """The filler frame with the scenario rows appended (all columns text)."""
    if not extra:
        return frame
    scenario = pl.DataFrame(
        [{c: row.get(c) for c in frame.columns} for row in extra],
        schema={c: pl.String for c in frame.columns},
        orient="row",
    )
    return pl.concat([frame, scenario])


def _write_sfdc(writer: SnapshotWriter, pop, r: Renderer, rows: dict) -> None:
    writer.table("sfdc/Lead", _with(sf.lead_frame(pop, r), rows["lead"]), quote_all=True, upper_headers=True)
    contacts, other_contacts = sf.contact_frame(pop, r)
    writer.table("sfdc/CampaignMember", _with(sf.cm_frame(pop, r, other_contacts), rows["cm"]), separator=";")
    writer.table("sfdc/Contact", _with(contacts, rows["contact"]))
    writer.table("sfdc/Campaign", sf.campaign_frame(pop))


def _write_clay(writer: SnapshotWriter, pop, r: Renderer, rows: dict) -> None:
    writer.table("clay/enrichment", _with(src.clay_enrichment_frame(pop, r), rows["clay_enrichment"]), bom=True)
    writer.table("clay/replies", _with(src.clay_replies_frame(pop, r), rows["clay_replies"]))
    writer.table("clay/errors", _with(src.error_frame(pop, r), rows["errors"]))


def _write_smartlead(writer: SnapshotWriter, pop, r: Renderer, rows: dict, smartlead_us: int) -> None:
    for k in range(N_CAMPAIGNS):
        extra = [row for row in rows["smartlead"] if row["_campaign"] == k]
        frame = _with(src.smartlead_frame(pop, r, k, smartlead_us), extra)
        if frame.height:
            writer.table(f"smartlead/campaign-{pop.campaign_sl_ids[k]}", frame, quote_all=True)
    scenario = pl.DataFrame(
        {"ts_us": [t for t, _ in rows["events"]], "line": [json.dumps(p) for _, p in rows["events"]]},
        schema={"ts_us": pl.Int64, "line": pl.String},
    )
    events = pl.concat([ev.filler_events(pop, r), scenario]).sort(["ts_us", "line"])
    writer.lines("smartlead/events.jsonl", events["line"])


def _contact_of_lead(pop) -> pl.Series:
    converted = np.flatnonzero(pop.lead["converted"])
    ids = contact_ids(len(converted))  # contact_frame gives the converted leads the first Contact ids
    return blanks(pop.n).scatter(converted, ids) if len(converted) else blanks(pop.n)


def _iso(epoch_us: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us)
    return moment.strftime(ISO_FORMAT)
