-- The org's Cold_Lead_Eligible__c formula as a macro (replace this file, or point the policy's
-- [formulas].cold_lead_eligible at your own, when the org's formula differs).
create or replace macro cold_lead_eligible(has_opted_out, overall_hard_bounced, has_contact) as
    not coalesce(has_opted_out, false) and not coalesce(overall_hard_bounced, false) and not coalesce(has_contact, false);
