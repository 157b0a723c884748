"""Conventions: each fact is written once (the contract, the model registry), and the copies people read agree."""

from __future__ import annotations

import tomllib

from reconcile import contract, pull
from reconcile.policy import default_policy_path, load_policy


def test_the_default_policy_spells_the_contracts_clay_headers():
    doc = tomllib.loads(default_policy_path().read_text("utf-8"))
    assert doc["clay"]["columns"] == {c.name: c.header for c in contract.CLAY_COLUMNS}
    assert load_policy().clay_columns == doc["clay"]["columns"]


def test_pull_reads_exactly_the_salesforce_sources_columns():
    assert pull.FIELDS == {obj: [c.header for c in src.columns] for obj, src in contract.SALESFORCE_OBJECTS.items()}
    assert set(pull.FIELDS) == {"Lead", "CampaignMember", "Contact", "Campaign"}
