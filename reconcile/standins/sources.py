"""Smartlead and Pardot beside the sandbox org (`reconcile sandbox serve`, `reconcile demo`): seeded from a
snapshot's smartlead/campaign-*.csv and pardot/*prospect*.csv, in memory; Pardot accepts exactly the live sessions
of the sandbox org as its Salesforce OAuth tokens (as Account Engagement accepts the org's tokens)."""

from __future__ import annotations

from pathlib import Path

from .pardot import PardotStandin, prospects_from_snapshot
from .smartlead import SmartleadStandin, campaigns_from_snapshot

BUSINESS_UNIT_ID = "0UvDm000000GmkeKAC"


def start_source_standins(org, seed_dir: str | Path | None):
    """(info for the serving JSON line, stop callable)."""

    def token_ok(token: str) -> bool:
        with org.lock:
            return org.user_for_session(token) is not None

    seed = Path(seed_dir) if seed_dir else None
    sl = SmartleadStandin(campaigns_from_snapshot(seed) if seed else {})
    pd = PardotStandin(
        prospects_from_snapshot(seed) if seed else [], business_unit_id=BUSINESS_UNIT_ID, token_ok=token_ok
    )
    info = {
        "smartlead_base_url": sl.base_url,
        "smartlead_api_key": sl.api_key,
        "pardot_base_url": pd.url,
        "pardot_business_unit_id": pd.business_unit_id,
    }
    return info, lambda: (sl.stop(), pd.stop())
