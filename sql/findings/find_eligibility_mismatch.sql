-- Finding eligibility_mismatch: SFDC's Cold_Lead_Eligible__c ≠ the org's formula (formulas/cold_lead_eligible.sql)
-- evaluated on what SFDC holds. Grain: one row per Lead. Parameters: none.
with contact_emails as (
    select distinct email_norm from stg_sfdc__contact where email_norm is not null
),
expected as (
    select
        l.*,
        cold_lead_eligible(l.has_opted_out, l.pardot_hard_bounced or l.external_hard_bounced,
                           c.email_norm is not null) as expected_eligible
    from stg_sfdc__lead as l
    left join contact_emails as c on c.email_norm = l.email_norm
)
select
    'eligibility_mismatch' as kind,
    'Lead' as object,
    sf_lead_id as record_id,
    'Cold_Lead_Eligible__c is ' || cold_lead_eligible || ' but the eligibility formula gives ' || expected_eligible
        || ' (opted out: ' || has_opted_out || ', hard-bounced: ' || (pardot_hard_bounced or external_hard_bounced)
        || ').' as detail,
    cast(null as varchar) as at,
    [evidence('sfdc', file, row, 'Cold_Lead_Eligible__c', cast(cold_lead_eligible as varchar), null)] as evidence
from expected
where cold_lead_eligible <> expected_eligible
