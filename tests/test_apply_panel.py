"""The apply panel releases overwrite candidates only when ticked with a reason (seed 3.3), through the sandbox."""

import pytest
from conftest import HANDMADE, client_for, policy_with, seed

from reconcile.notebook.apply_ui import ApplyPanel
from reconcile.build import build_plan

LEAD_F = "00Q5g00000AbCdFEAV"


@pytest.fixture
def setup(tmp_path, sandbox_org):
    h = sandbox_org
    seed(h, HANDMADE)
    policy = policy_with(
        tmp_path,
        {"company_description__c": "active", "Industry": "active"},
        replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"},
    )
    plan_path = tmp_path / "plan.json"
    build_plan(HANDMADE, out=plan_path, policy=policy)
    panel = ApplyPanel(plan_path, client_factory=lambda: client_for(h), policy=policy)
    return h, panel


def test_only_overwrite_only_candidates_are_offered(setup):
    _, panel = setup
    # Lead F's description is blocked only by overwrite_not_approved; its Industry is also an invalid picklist value
    assert list(panel.release_boxes) == ["Lead.company_description__c"]


def test_a_release_needs_a_reason_and_then_overwrites_exactly_that_field(setup):
    h, panel = setup
    panel.name.value = "Ana Admin"
    panel.release_boxes["Lead.company_description__c"].value = True
    assert panel.apply_button.disabled
    panel.release_reason.value = "Sales confirmed Clay's description is current"
    assert not panel.apply_button.disabled
    panel.click_apply()
    assert panel.error is None, panel.error
    assert h.org.get("Lead", LEAD_F)["company_description__c"] == "Globex does it all"
    assert h.org.get("Lead", LEAD_F)["Industry"] == "Manufacturing"
    assert panel.result.counts.get("applied", 0) >= 1
    changed = {(c["id"], c["field"]) for c in h.org.field_history}
    assert (LEAD_F, "company_description__c") in changed
    assert (LEAD_F, "Industry") not in changed
