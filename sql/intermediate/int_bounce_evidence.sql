-- Hard-bounce evidence per Lead: Clay `Hard Bounced`, or a Smartlead EMAIL_BOUNCE/EMAIL_BOUNCED event — except
-- in a Smartlead campaign where the lead is categorised "Sender Originated Bounce" (not a recipient bounce).
-- Grain: one row per evidence row. Parameters: $clay_header_hard_bounced (Clay header, for provenance).
select
    i.sf_lead_id,
    'clay' as source,
    evidence('clay', c.file, c.row, $clay_header_hard_bounced, c.hard_bounced_raw, null) as ev
from stg_clay__rows as c
join int_source_rows_matched as i on i.file = c.file and i.row = c.row
where c.hard_bounced and i.sf_lead_id is not null
union all
select
    i.sf_lead_id,
    'smartlead',
    evidence('smartlead', e.file, e.row, e.event_type_key, e.event_type, iso_ts(e.event_at))
from stg_smartlead__events as e
join int_source_rows_matched as i on i.file = e.file and i.row = e.row
left join int_sender_bounces as sb
    on sb.sf_lead_id = i.sf_lead_id and sb.smartlead_campaign_id = e.smartlead_campaign_id
where e.kind = 'bounce' and i.sf_lead_id is not null and sb.sf_lead_id is null
