-- Finding eligibility_mismatch: SFDC's Cold_Lead_Eligible__c ≠ the org's formula (formulas/cold_lead_eligible.sql)
-- evaluated on what SFDC holds. Grain: one row per Lead. Parameters: none.
-- Evidence: the Lead's Cold_Lead_Eligible__c, and the Contact with the Lead's email when there is one (the formula's
-- third input, which no Lead column shows: its first Contact row by file and row).
with contact_emails as (
    select email_norm, first(struct_pack(file := file, row := row, email := email_raw) order by file, row) as contact
    from stg_sfdc__contact
    where email_norm is not null
    group by email_norm
),
expected as (
    select
        l.*,
        cold_lead_eligible(l.has_opted_out, l.pardot_hard_bounced or l.external_hard_bounced,
                           c.email_norm is not null) as expected_eligible,
        c.contact
    from stg_sfdc__lead as l
    left join contact_emails as c on c.email_norm = l.email_norm
)
select
    'eligibility_mismatch' as kind,
    'Lead' as object,
    sf_lead_id as record_id,
    'Cold_Lead_Eligible__c is ' || cold_lead_eligible || ' but the eligibility formula gives ' || expected_eligible
        || ' (opted out: ' || has_opted_out || ', hard-bounced: ' || (pardot_hard_bounced or external_hard_bounced)
        || ', a Contact has the email: ' || (contact is not null) || ').' as detail,
    cast(null as varchar) as at,
    list_filter(
        [
            evidence('sfdc', file, row, 'Cold_Lead_Eligible__c', cast(cold_lead_eligible as varchar), null),
            case when contact is not null then evidence(
                'sfdc', struct_extract(contact, 'file'), struct_extract(contact, 'row'), 'Email',
                struct_extract(contact, 'email'), null
            ) end
        ],
        lambda e: e is not null
    ) as evidence
from expected
where cold_lead_eligible <> expected_eligible
