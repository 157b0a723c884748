"""The scenario catalogue: small, named, hand-made records, each exercising one case of SPEC §3/§4.

Ids are fixed (seed- and size-independent): Lead `00QDm0ScN<nnnn>xY…`, CampaignMember `00vDm0ScN<nnnn>xY…`.
Times are relative to the snapshot's taken_at (T); Smartlead was pulled at T-3h, Clay at T-10min.
"""

from __future__ import annotations

import json

from .builder import DAY, HOUR, Ref, ScenarioBuilder
from .ids import LEAD, scenario_id
from .render import BOOL_EXCEL, BOOL_NUMERIC, BOOL_WORDS, TS_MICROS_UTC, TS_MINUS5, TS_OFFSET_UTC, TS_Z

LONG_DESCRIPTION = (
    "Tailspin Composites Ltd designs and manufactures carbon-fibre reinforced thermoplastic laminates, "
    "honeycomb sandwich panels and out-of-autoclave prepregs for aerospace interiors, satellite structures, "
    "motorsport chassis and offshore wind blades, with plants in Derby, Toulouse and Wichita and an R&D centre."
)  # 300 characters: longer than the 255-char text field
SCRIPT_DESCRIPTION = 'Acme & Sons <script>alert(1)</script> makes "safe" <b>coatings</b>.'


def build_all(b: ScenarioBuilder) -> None:
    for scenario in (
        bounces,
        pardot_and_deliverability,
        enrichment,
        replies,
        classification,
        eligibility,
        identity,
        connector_errors,
    ):
        scenario(b)


def bounces(b: ScenarioBuilder) -> None:
    t = b.t
    b.begin(
        "clay_hard_bounce",
        "hard_bounce_union: Clay Hard Bounced, SFDC external false; eligibility: leaves the pool once applied",
        "Lead external_hard_bounced__c false → true (ready)",
        "plan summary: 1 lead leaves the cold pool (Cold_Lead_Eligible__c true today)",
    )
    lead = b.lead("hana.bouncer@northwind-adhesives.com")
    cm = b.member(lead, 0, status="BLOCKED")
    b.clay(
        cm,
        email="Hana.Bouncer@Northwind-Adhesives.com ",
        hard_bounced=b.yes(True),
        replied=b.yes(False),
        description="Supplier of adhesives based in Lyon.",
        industry="Chemicals",
    )

    b.begin(
        "smartlead_only_bounce",
        "hard_bounce_union + bounce_hop_lost: EMAIL_BOUNCE only in Smartlead",
        "Lead external_hard_bounced__c false → true (ready)",
        "finding bounce_hop_lost (CRM Admin / IT Infra)",
    )
    lead = b.lead("oskar.lost@fabrikam-plastics.de", company="Fabrikam Plastics AG")
    cm = b.member(lead, 1, status="BLOCKED")
    b.bounce_event(cm, t - 2 * DAY, old=True)  # EMAIL_BOUNCED, lead_email, campaign_id as a string

    b.begin(
        "bounce_in_both_sources",
        "hard_bounce_union: Clay 'yes' + Smartlead EMAIL_BOUNCE agree (no hop lost)",
        "Lead external_hard_bounced__c false → true (ready)",
        "no bounce_hop_lost finding",
    )
    lead = b.lead("ines.double@contoso-coatings.fr", company="Contoso Coatings SA")
    cm = b.member(lead, 2, status="BLOCKED")
    b.bounce_event(cm, t - 4 * DAY)
    b.clay(cm, hard_bounced=b.yes(True, BOOL_WORDS), replied="", enrichment=False)

    b.begin(
        "sender_originated_bounce",
        "Smartlead category 'Sender Originated Bounce' is not a recipient bounce",
        "no change to external_hard_bounced__c",
        "finding sender_originated_bounce",
        "(the category itself is a picklist value: ReplyClassification__c '' → 'Sender Originated Bounce' "
        "with classification_without_reply, unless the policy excludes it)",
    )
    lead = b.lead("paul.sender@wingtip-aerospace.com", company="Wingtip Aerospace Inc.")
    cm = b.member(lead, 3, category="Sender Originated Bounce")
    b.category_event(cm, t - 1 * DAY, "Sender Originated Bounce")

    b.begin(
        "external_true_no_evidence",
        "hard_bounce_union never clears: external true, no evidence anywhere",
        "no change (external_hard_bounced__c stays true)",
    )
    lead = b.lead("greta.kept@litware-energy.com", company="Litware Energy", external=True)
    b.member(lead, 4)

    b.begin(
        "converted_lead_bounce",
        "hard_bounce_union on a converted lead",
        "Lead external_hard_bounced__c false → true blocked converted_lead",
    )
    lead = b.lead("carl.converted@adatum-pharma.com", company="Adatum Pharma", converted=True)
    b.contact("carl.converted@adatum-pharma.com")  # the converted Contact shares the email
    cm = b.member(lead, 5)
    b.clay(cm, hard_bounced=b.yes(True, BOOL_EXCEL), enrichment=False)


def pardot_and_deliverability(b: ScenarioBuilder) -> None:
    t = b.t
    b.begin(
        "overall_formula_mismatch",
        "overall_hard_bounced__c ≠ pi OR external (as SFDC holds them)",
        "finding overall_formula_mismatch on both leads; overall_hard_bounced__c never written",
    )
    lead = b.lead("olga.formula@proseware-polymers.com", pardot=True, overall=False, eligible=False)
    b.prospect("olga.formula@proseware-polymers.com", lead=lead, bounced=True, at_us=t - 20 * DAY)
    b.lead("tom.stale@proseware-polymers.com", overall=True, eligible=True)  # eligibility follows pi OR external

    b.begin(
        "pardot_sync_gap",
        "Pardot prospect hard-bounced, SFDC pi__pardot_hard_bounced__c false",
        "finding pardot_sync_gap (runbook: check Pardot first)",
        "no change to any bounce field",
    )
    lead = b.lead("pia.gap@tailspin-foods.it", company="Tailspin Foods S.p.A.")
    b.prospect("Pia.Gap@tailspin-foods.it", lead=lead, bounced=True, at_us=t - 6 * DAY)

    b.begin(
        "deliverability_review",
        "Clay Email Validation 'invalid', no bounce anywhere",
        "finding deliverability_review; no bounce field changes",
    )
    lead = b.lead("victor.invalid@orion-mining.com", company="Orion Mining")
    cm = b.member(lead, 6)
    b.clay(
        cm,
        validation="invalid",
        description="Supplier of adhesives based in Lyon.",
        industry="Chemicals",
        replies=False,
    )


def enrichment(b: ScenarioBuilder) -> None:
    desc = "Keystone Batteries develops battery binders for the energy market from Stuttgart."
    b.begin(
        "description_fill_whitespace",
        "enrichment_fill_if_blank: SFDC description whitespace, Clay value",
        "Lead company_description__c '   ' → Clay text, blocked pending_legal",
        "Lead Industry NULL → 'Energy', blocked pending_legal",
    )
    lead = b.lead("kai.blank@keystone-batteries.de", company="Keystone Batteries", description="   ", industry=None)
    cm = b.member(lead, 7)
    b.clay(cm, description=f"  {desc} ", industry="Energy", replies=False)

    b.begin(
        "description_fill_null",
        "enrichment_fill_if_blank: SFDC description NULL",
        "Lead company_description__c NULL → Clay text, blocked pending_legal",
    )
    lead = b.lead("nora.null@summit-water.nl", company="Summit Water BV", description=None)
    cm = b.member(lead, 8)
    b.clay(
        cm,
        description="Summit Water BV builds water-treatment membranes for municipal utilities.",
        industry="Chemicals",
        replies=False,
    )

    b.begin(
        "description_overwrite",
        "existing different description (seed 3.3)",
        "Lead company_description__c change blocked pending_legal (also overwrite_not_approved)",
    )
    lead = b.lead("otto.over@meridian-coatings.com", company="Meridian Coatings", description="Maker of adhesives.")
    cm = b.member(lead, 9)
    b.clay(
        cm,
        description="Meridian Coatings supplies barrier coatings for food packaging.",
        industry="Chemicals",
        replies=False,
    )

    b.begin(
        "conflicting_enrichment",
        "two different non-blank Clay descriptions for one lead",
        "finding conflicting_enrichment; no description change",
    )
    lead = b.lead("cleo.conflict@helix-bio.com", company="Helix Bio", description=None, industry="Biotechnology")
    cm1, cm2 = b.member(lead, 10), b.member(lead, 11)
    b.clay(cm1, description="Helix Bio makes enzymes for detergents.", industry="Biotechnology", replies=False)
    b.clay(cm2, description="Helix Bio is a contract research organisation.", industry="Biotechnology", replies=False)

    b.begin(
        "description_too_long",
        "Clay description longer than 255 characters",
        "Lead company_description__c blocked pending_legal (also too_long)",
    )
    lead = b.lead(
        "lena.long@tailspin-composites.co.uk",
        company="Tailspin Composites Ltd",
        description="",
        industry="Manufacturing",
    )
    cm = b.member(lead, 12)
    b.clay(cm, description=LONG_DESCRIPTION, industry="Manufacturing", replies=False)

    b.begin(
        "industry_lowercase",
        "Industry 'banking' matched case-insensitively",
        "Lead Industry NULL → 'Banking' (canonical spelling), blocked pending_legal",
    )
    lead = b.lead("bea.bank@baltic-finance.com", company="Baltic Finance", industry=None)
    cm = b.member(lead, 13)
    b.clay(cm, industry="banking", description="Supplier of adhesives based in Lyon.", replies=False)

    b.begin(
        "industry_not_in_picklist",
        "Industry 'Fintech' is not in the restricted picklist",
        "Lead Industry blocked pending_legal (also invalid_picklist_value)",
    )
    lead = b.lead("finn.tech@delta-pay.io", company="Delta Pay", industry="")
    cm = b.member(lead, 14)
    b.clay(cm, industry="Fintech", description="Supplier of adhesives based in Lyon.", replies=False)

    b.begin(
        "script_in_description",
        "HTML in a Clay description (the report must escape it)",
        "Lead company_description__c NULL → the text verbatim, blocked pending_legal",
    )
    lead = b.lead("sam.script@acme-sons.com", company="Acme & Sons", description=None)
    cm = b.member(lead, 15)
    b.clay(cm, description=SCRIPT_DESCRIPTION, industry="Chemicals", replies=False)


def replies(b: ScenarioBuilder) -> None:
    t = b.t
    b.begin(
        "reply_clay_only",
        "reply_set_once: Clay Replied true, Has_Replied__c false",
        "CampaignMember Has_Replied__c false → true",
        "CampaignMember ReplyClassification__c '' → 'Interested'",
    )
    cm = b.member(b.lead("rita.reply@granite-agro.com"), 0)
    b.clay(
        cm,
        replied=b.yes(True, BOOL_NUMERIC),
        category="Interested",
        reply_at=b.r.ts1(t - 5 * DAY, TS_MINUS5),
        enrichment=False,
    )

    b.begin(
        "reply_smartlead_event_only",
        "reply_set_once: only a Smartlead EMAIL_REPLY",
        "CampaignMember Has_Replied__c false → true",
    )
    cm = b.member(b.lead("egon.event@evergreen-textiles.com"), 1)
    b.event("EMAIL_REPLY", cm, t - 1 * DAY, TS_MICROS_UTC, reply_message={"text": "Tell me more."})

    b.begin(
        "reply_from_colleague",
        "reply_set_once: EMAIL_REPLIED (old name), to_email is a colleague; match on sl_lead_email",
        "CampaignMember Has_Replied__c false → true",
    )
    cm = b.member(b.lead("anna.lead@cobalt-mining.com"), 2)
    b.event(
        "EMAIL_REPLIED" if b.r.quirks else "EMAIL_REPLY",
        cm,
        t - 2 * DAY,
        TS_OFFSET_UTC,
        to_email="purchasing@cobalt-mining.com",
        sl_lead_email=cm.email,
    )

    b.begin(
        "reply_count_only",
        "reply_set_once: only leads-export reply_count > 0 (15-char id in custom_fields)",
        "CampaignMember Has_Replied__c false → true",
    )
    lead = b.lead("rex.count@pioneer-logistics.com")
    b.member(lead, 3, reply_count=2, short_id=True)

    b.begin("replied_stays_true", "reply_set_once never clears: Has_Replied__c true, no evidence", "no change")
    b.member(b.lead("stella.set@quarry-mining.com"), 4, replied=True, classification="Interested")

    b.begin(
        "custom_fields_newline",
        "custom_fields JSON with a newline and escaped quotes; reply_count 1",
        "CampaignMember Has_Replied__c false → true (paired through custom_fields)",
    )
    lead = b.lead("jo.json@riviera-cosmetics.fr")
    cm = b.member(lead, 5, smartlead=False)
    fields = {
        "job_title": 'Head of "R&D"',
        "sfdc_lead_id": b.r.id1(lead.id, short=True),
        "sfdc_campaign_id": b.campaign_ids[5],
        "note": "met at K 2025",
    }
    text = json.dumps(fields, indent=1) if b.r.quirks else json.dumps(fields)
    b.smartlead(cm, reply_count=1, custom_fields=text)

    b.begin(
        "duplicate_clay_rows",
        "the same Clay row twice (report import without uniqueness fields)",
        "one Has_Replied__c false → true and one ReplyClassification__c '' → 'Meeting Request', not two",
        "no conflicting_enrichment",
    )
    cm = b.member(
        b.lead(
            "dora.dupe@atlas-packaging.com",
            description="Atlas Packaging makes barrier films.",
            industry="Manufacturing",
        ),
        6,
    )
    for _ in range(2):
        b.clay(
            cm,
            replied=b.yes(True),
            category="Meeting Request",
            reply_at=b.r.ts1(t - 3 * DAY, TS_Z),
            description="Atlas Packaging makes barrier films.",
            industry="Manufacturing",
        )


def classification(b: ScenarioBuilder) -> None:
    t = b.t
    b.begin(
        "classification_clay_later",
        "reply_classification_latest: Clay (T-90min) later than Smartlead",
        "CampaignMember ReplyClassification__c 'Not Interested' → 'Meeting Request'",
    )
    cm = b.member(
        b.lead("carla.later@vertex-auto.com"), 7, replied=True, classification="Not Interested", reply_count=1
    )
    b.category_event(cm, t - 2 * DAY, "Not Interested")
    b.clay(
        cm,
        replied=b.yes(True),
        category="Meeting Request",
        reply_at=b.r.ts1(t - 90 * 60_000_000, TS_Z),
        enrichment=False,
    )

    b.begin(
        "classification_smartlead_later",
        "reply_classification_latest: LEAD_CATEGORY_UPDATED later than Clay",
        "CampaignMember ReplyClassification__c 'Interested' → 'Meeting Request'",
    )
    cm = b.member(
        b.lead("sven.sooner@zenith-energy.com"),
        8,
        replied=True,
        classification="Interested",
        reply_count=1,
        category="Meeting Request",
    )
    b.clay(cm, replied=b.yes(True), category="Interested", reply_at=b.r.ts1(t - 2 * DAY, TS_MINUS5), enrichment=False)
    b.category_event(cm, t - 1 * DAY, "Meeting Request", "Interested")

    b.begin(
        "classification_tie_clay_wins",
        "reply_classification_latest: same instant (different offsets) → Clay",
        "CampaignMember Has_Replied__c false → true (reply_count 1)",
        "CampaignMember ReplyClassification__c '' → 'Interested'",
    )
    cm = b.member(b.lead("tia.tie@nimbus-electronics.com"), 9, reply_count=1)
    tie = t - 2 * DAY
    b.clay(cm, replied=b.yes(True), category="Interested", reply_at=b.r.ts1(tie, TS_MINUS5), enrichment=False)
    b.category_event(cm, tie, "Not Interested", style=TS_Z)

    b.begin(
        "classification_blank_never_clears",
        "a blank Clay category never clears the SFDC value",
        "no change (ReplyClassification__c stays 'Interested')",
    )
    cm = b.member(b.lead("bob.blank@oasis-foods.com"), 10, replied=True, classification="Interested")
    b.clay(cm, replied=b.yes(True), category="", reply_at=b.r.ts1(t - 1 * HOUR, TS_Z), enrichment=False)

    b.begin(
        "classification_without_reply",
        "Clay category, no reply evidence anywhere",
        "CampaignMember ReplyClassification__c '' → 'Out Of Office'",
        "finding classification_without_reply",
    )
    cm = b.member(b.lead("otis.ooo@monarch-water.com"), 11)
    b.clay(cm, replied=b.yes(False), category="Out Of Office", reply_at=b.r.ts1(t - 2 * DAY, TS_Z), enrichment=False)

    b.begin(
        "do_not_contact_reply",
        "'Do Not Contact' classification (routed to DPO)",
        "Has_Replied__c false → true",
        "ReplyClassification__c '' → 'Do Not Contact'",
        "finding do_not_contact_reply (DPO)",
    )
    cm = b.member(b.lead("dana.dnc@falcon-aero.com"), 12)
    b.clay(cm, replied=b.yes(True), category="Do Not Contact", reply_at=b.r.ts1(t - 1 * DAY, TS_Z), enrichment=False)

    b.begin(
        "invalid_category",
        "category 'Positive' is not in the ReplyClassification__c picklist",
        "Has_Replied__c false → true",
        "ReplyClassification__c blocked invalid_picklist_value",
    )
    cm = b.member(b.lead("ivy.invalid@lotus-pharma.com"), 13)
    b.clay(cm, replied=b.yes(True), category="Positive", reply_at=b.r.ts1(t - 1 * DAY, TS_Z), enrichment=False)

    b.begin(
        "category_case_variant",
        "'uncategorizable by ai ' matched case-insensitively",
        "Has_Replied__c false → true",
        "ReplyClassification__c '' → 'Uncategorizable by AI'",
    )
    cm = b.member(b.lead("uma.case@ionic-membranes.com"), 14)
    b.clay(
        cm,
        replied=b.yes(True),
        category="uncategorizable by ai ",
        reply_at=b.r.ts1(t - 1 * DAY, TS_Z),
        enrichment=False,
    )


def eligibility(b: ScenarioBuilder) -> None:
    b.begin(
        "eligible_despite_opt_out",
        "Cold_Lead_Eligible__c true although HasOptedOutOfEmail",
        "finding eligibility_mismatch",
    )
    b.lead("olaf.optout@jade-textiles.com", opted_out=True, eligible=True)

    b.begin(
        "lead_shares_email_with_contact",
        "a Contact with the same email (different case)",
        "finding eligibility_mismatch (expected false)",
    )
    b.lead("mia.contact@kestrel-energy.com", eligible=True)
    b.contact("Mia.Contact@Kestrel-Energy.com")


def identity(b: ScenarioBuilder) -> None:
    b.begin(
        "ambiguous_email",
        "one email on two Leads (case differs): Clay and Pardot rows without a Lead id",
        "finding ambiguous_match for the Clay row and the Pardot row; no change on either lead",
    )
    first = b.lead("sam.twin@polaris-plastics.com")
    b.lead("sam.twin@polaris-plastics.com", spelled="Sam.Twin@Polaris-Plastics.com")
    b.clay(
        None, lead=first, lead_id="", email="sam.twin@polaris-plastics.com ", hard_bounced=b.yes(True), enrichment=False
    )
    b.prospect("SAM.TWIN@polaris-plastics.com", bounced=True, at_us=b.t - 3 * DAY, linked=False)

    b.begin(
        "unmatched_source_rows",
        "Clay, Smartlead and Pardot rows that match no Lead",
        "finding unmatched_source_row ×4 (Clay email, Clay deleted LeadId, Smartlead, Pardot)",
    )
    b.clay(None, lead_id="", email="ghost@nowhere-gmbh.de", replied=b.yes(True), enrichment=False)
    b.clay(
        None,
        lead_id=scenario_id(LEAD, 999)[:15],
        email="deleted.lead@merged-away.com",
        description="A merged lead.",
        replies=False,
    )  # a valid id of a Lead that no longer exists
    stranger = Ref(id="", email="stranger@unknown-corp.com", number=998)
    b.smartlead(
        Ref(id="", email=stranger.email, number=998, lead=stranger, campaign=15),
        custom_fields=json.dumps({"job_title": "CEO"}),
    )
    b.prospect("walk.in@trade-fair-visitor.com", bounced=False)


def connector_errors(b: ScenarioBuilder) -> None:
    t = b.t
    lead_ids = [r["Id"] for r in b.rows["lead"]]
    cm_ids = [r["Id"] for r in b.rows["cm"]]
    b.begin(
        "connector_errors",
        "Clay error log: 4 errors in the last 7 days, 3 older (weekly review, seed 3.5)",
        "finding connector_error for each error inside the last 7 days",
    )
    b.error(
        t - 1 * DAY, "Lead", lead_ids[0], "Company", "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]"
    )
    b.error(
        t - 2 * DAY,
        "CampaignMember",
        cm_ids[0],
        "Has_Replied__c",
        "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records",
    )
    b.error(
        t - 3 * DAY,
        "Lead",
        lead_ids[1],
        "company_description__c",
        "INVALID_FIELD_FOR_INSERT_UPDATE: Unable to create/update fields: company_description__c. Please check "
        "the security settings of this field and verify that it is read/write for your profile or permission set.",
    )
    b.error(
        t - 6 * DAY,
        "Lead",
        lead_ids[2],
        "Industry",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Industry: bad value for restricted picklist field: Fintech",
    )
    b.error(
        t - 9 * DAY,
        "CampaignMember",
        cm_ids[1],
        "ReplyClassification__c",
        "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records",
    )
    b.error(
        t - 11 * DAY, "Lead", lead_ids[3], "Company", "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]"
    )
    b.error(
        t - 13 * DAY,
        "Lead",
        lead_ids[4],
        "external_hard_bounced__c",
        "ENTITY_IS_LOCKED: the entity is locked for editing",
    )
