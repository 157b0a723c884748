-- Finding pardot_sync_gap: Pardot says hard-bounced, SFDC's pi__pardot_hard_bounced__c is false (the Pardot
-- connector has not synced the bounce). Grain: one row per matched Pardot prospect row. Parameters: none.
-- Evidence: the Lead's pi__pardot_hard_bounced__c as SFDC holds it, then the Pardot row, its column named as the file
-- names it (snapshot_headers: v3/v4 exports call it is_email_hard_bounced).
select
    'pardot_sync_gap' as kind,
    'Lead' as object,
    l.sf_lead_id as record_id,
    'Pardot prospect ' || p.pardot_prospect_id || ' is hard-bounced but pi__pardot_hard_bounced__c is false: the Pardot '
        || 'connector has not synced the bounce. Check the Pardot connector sync queue.' as detail,
    iso_ts(p.bounced_at) as at,
    [
        evidence('sfdc', l.file, l.row, 'pi__pardot_hard_bounced__c', cast(l.pardot_hard_bounced as varchar), null),
        evidence(
            'pardot', p.file, p.row, coalesce(h.header, 'isEmailHardBounced'), p.is_hard_bounced_raw, iso_ts(p.bounced_at)
        )
    ] as evidence
from stg_pardot__prospects as p
join int_source_rows_matched as i on i.file = p.file and i.row = p.row
join stg_sfdc__lead as l on l.sf_lead_id = i.sf_lead_id
left join snapshot_headers as h on h.file = p.file and h.column_name = 'is_hard_bounced'
where p.is_hard_bounced and not l.pardot_hard_bounced
