"""The apply panel releases overwrite candidates only when ticked with a reason (seed 3.3), through the sandbox."""

from pathlib import Path

import pytest

from reconcile.apply_ui import ApplyPanel
from reconcile.build import build_plan
from reconcile.salesforce import connect
from reconcile.sandbox import start_sandbox
from reconcile.seeding import seed_org
from tests.conftest import policy_with

HANDMADE = Path(__file__).parent / "fixtures" / "handmade"
LEAD_F = "00Q5g00000AbCdFEAV"


@pytest.fixture
def setup(tmp_path):
    h = start_sandbox()
    seed_org(h.org, HANDMADE)
    policy = policy_with(tmp_path, {"company_description__c": "active", "Industry": "active"},
                         replace={"max_snapshot_age_hours = 48": "max_snapshot_age_hours = 1000000"})
    plan_path = tmp_path / "plan.json"
    build_plan(HANDMADE, out=plan_path, policy=policy)
    env = {"SF_INSTANCE_URL": h.instance_url, "SF_SESSION_ID": h.session_id, "SF_CA_BUNDLE": h.ca_bundle}
    panel = ApplyPanel(plan_path, client_factory=lambda: connect(env=env), policy=policy)
    yield h, panel
    h.stop()


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
