-- Smartlead webhook payloads (events.jsonl); old and new field names both accepted (source_schemas §1.8).
-- Grain: one row per bounce, reply or category event. Parameters: none.
-- The time and the Salesforce ids are typed only here: their text is kept beside them (*_given; event_at_key names
-- the key the time came from) and sql/checks/check_smartlead__events.sql rejects the ones that do not parse.
-- *_key: the key each value came from (old or new name), so evidence names the field the payload has.
-- A kept event's fields are read in one json_extract_string over every path (v[1]..v[24], in the order of the
-- coalesces below): each `p ->> key` parsed the whole payload again (20 parses per event; 1M leads: 1.5 → 0.7 s).
with events as (
    select _file as file, _row as row, payload as p, upper(coalesce(payload ->> 'event_type', payload ->> 'event')) as t
    from raw_smartlead__events
),
kept as (
    select
        file, row, t,
        json_extract_string(p, [
            '$.sl_lead_email', '$.lead_email', '$.lead_data.email', '$.lead.email', '$.to_email',  -- v[1..5]: email
            '$.campaign_id', '$.campaign.id',  -- v[6..7]: campaign
            '$.sl_email_lead_map_id', '$.email_lead_map_id',  -- v[8..9]: lead map id
            '$.event_timestamp', '$.timestamp', '$.time_replied', '$.time_sent', '$.created_at',  -- v[10..14]: time
            '$.lead_category.new_name', '$.category',  -- v[15..16]: category
            '$.lead_data.custom_fields.sfdc_lead_id', '$.custom_fields.sfdc_lead_id',  -- v[17..18]: Lead id
            '$.lead_data.custom_fields.sfdc_campaign_id', '$.custom_fields.sfdc_campaign_id',  -- v[19..20]: Campaign id
            '$.event_type',  -- v[21]: present (else the old name `event` gave the type)
            '$.sl_email_lead_id', '$.lead_id', '$.email_lead_id'  -- v[22..24]: Smartlead lead id
        ]) as v,
        json_extract(p, '$.lead_category') as lead_category
    from events
    where t in ('EMAIL_BOUNCE', 'EMAIL_BOUNCED', 'EMAIL_REPLY', 'EMAIL_REPLIED', 'LEAD_CATEGORY_UPDATED')
)
select
    file,
    row,
    t as event_type,
    case when v[21] is not null then 'event_type' else 'event' end as event_type_key,
    case when t in ('EMAIL_BOUNCE', 'EMAIL_BOUNCED') then 'bounce'
         when t in ('EMAIL_REPLY', 'EMAIL_REPLIED') then 'reply'
         else 'category' end as kind,
    norm_email(coalesce(v[1], v[2], v[3], v[4], v[5])) as email_norm,
    case when v[1] is not null then 'sl_lead_email' when v[2] is not null then 'lead_email'
         when v[3] is not null then 'lead_data.email' when v[4] is not null then 'lead.email'
         else 'to_email' end as email_key,
    clean_text(coalesce(v[6], v[7])) as smartlead_campaign_id,
    clean_text(coalesce(v[8], v[9])) as smartlead_lead_map_id,
    clean_text(coalesce(v[22], v[23], v[24])) as smartlead_lead_id,
    sf_ts(coalesce(v[10], v[11], v[12], v[13], v[14])) as event_at,
    coalesce(v[10], v[11], v[12], v[13], v[14]) as event_at_given,
    case when v[10] is not null then 'event_timestamp' when v[11] is not null then 'timestamp'
         when v[12] is not null then 'time_replied' when v[13] is not null then 'time_sent'
         when v[14] is not null then 'created_at' else 'event_timestamp' end as event_at_key,
    clean_text(coalesce(v[15], v[16], case when json_type(lead_category) = 'VARCHAR' then lead_category ->> '$' end))
        as new_category,
    case when v[15] is not null then 'lead_category.new_name' when v[16] is not null then 'category'
         else 'lead_category' end as new_category_key,
    sf_id18(coalesce(v[17], v[18])) as sf_lead_id,
    case when v[17] is not null then 'lead_data.custom_fields.sfdc_lead_id' else 'custom_fields.sfdc_lead_id' end
        as sf_lead_id_key,
    sf_id18(coalesce(v[19], v[20])) as sf_campaign_id,
    coalesce(v[17], v[18]) as sf_lead_id_given,
    coalesce(v[19], v[20]) as sf_campaign_id_given
from kept
-- sorted (the file's order): the filter leaves partly filled row groups, which the checkpoint after the CREATE rewrote
order by file, row
