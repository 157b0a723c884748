-- Findings overall_formula_mismatch (SFDC's overall_hard_bounced__c ≠ pi__pardot_hard_bounced__c OR
-- external_hard_bounced__c as SFDC holds them) and pardot_sync_gap (Pardot says hard-bounced, SFDC's Pardot flag
-- is false). Runbook (seed §3.5): check Pardot's source first, then Clay's external_hard_bounced__c.
-- Grain: one row per finding. Parameters: none.
select
    'overall_formula_mismatch' as kind,
    'Lead' as object,
    lead_id as record_id,
    'overall_hard_bounced__c is ' || overall_hard_bounced || ' but pi__pardot_hard_bounced__c OR '
        || 'external_hard_bounced__c is ' || (pardot_hard_bounced or external_hard_bounced)
        || '. Check Pardot''s hard-bounce source first, then Clay''s external_hard_bounced__c; never override '
        || 'manually without an audit trail.' as detail,
    cast(null as varchar) as at,
    [evidence('sfdc', file, row, 'overall_hard_bounced__c', cast(overall_hard_bounced as varchar), null)] as evidence
from stg_sfdc__lead
where overall_hard_bounced <> (pardot_hard_bounced or external_hard_bounced)
union all
select
    'pardot_sync_gap',
    'Lead',
    l.lead_id,
    'Pardot prospect ' || p.prospect_id || ' is hard-bounced but pi__pardot_hard_bounced__c is false: the Pardot '
        || 'connector has not synced the bounce. Check the Pardot connector sync queue.',
    iso_ts(p.bounced_at),
    [evidence('pardot', p.file, p.row, 'isEmailHardBounced', p.is_hard_bounced_raw, iso_ts(p.bounced_at))]
from stg_pardot__prospects as p
join int_source_rows_matched as i on i.file = p.file and i.row = p.row
join stg_sfdc__lead as l on l.lead_id = i.lead_id
where p.is_hard_bounced and not l.pardot_hard_bounced
