-- Smartlead webhook payloads (events.jsonl); old and new field names both accepted (source_schemas §1.8).
-- Grain: one row per bounce, reply or category event. Parameters: none.
with events as (
    select _file as file, _row as row, payload as p, upper(coalesce(payload ->> 'event_type', payload ->> 'event')) as t
    from raw_smartlead__events
)
select
    file,
    row,
    t as event_type,
    case when t in ('EMAIL_BOUNCE', 'EMAIL_BOUNCED') then 'bounce'
         when t in ('EMAIL_REPLY', 'EMAIL_REPLIED') then 'reply'
         else 'category' end as kind,
    norm_email(coalesce(p ->> 'sl_lead_email', p ->> 'lead_email', p -> 'lead_data' ->> 'email',
                        p -> 'lead' ->> 'email', p ->> 'to_email')) as email_norm,
    clean_text(coalesce(p ->> 'campaign_id', p -> 'campaign' ->> 'id')) as smartlead_campaign_id,
    clean_text(coalesce(p ->> 'sl_email_lead_map_id', p ->> 'email_lead_map_id')) as smartlead_lead_map_id,
    sf_ts(coalesce(p ->> 'event_timestamp', p ->> 'timestamp', p ->> 'time_replied', p ->> 'time_sent',
                   p ->> 'created_at')) as event_at,
    clean_text(coalesce(p -> 'lead_category' ->> 'new_name', p ->> 'category',
                        case when json_type(p -> 'lead_category') = 'VARCHAR' then p ->> 'lead_category' end))
        as new_category,
    sf_id18(coalesce(p -> 'lead_data' -> 'custom_fields' ->> 'sfdc_lead_id', p -> 'custom_fields' ->> 'sfdc_lead_id'))
        as sf_lead_id
from events
where t in ('EMAIL_BOUNCE', 'EMAIL_BOUNCED', 'EMAIL_REPLY', 'EMAIL_REPLIED', 'LEAD_CATEGORY_UPDATED')
-- sorted (the file's order): the filter leaves partly filled row groups, which the checkpoint after the CREATE rewrote
order by file, row
