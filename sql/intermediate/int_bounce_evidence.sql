-- Hard-bounce evidence per Lead: Clay `Hard Bounced`, or a Smartlead EMAIL_BOUNCE/EMAIL_BOUNCED event — except
-- in a Smartlead campaign where the lead is categorised "Sender Originated Bounce" (not a recipient bounce).
-- Grain: one row per evidence row. Parameters: $h_hard_bounced (Clay header, for provenance).
select
    i.lead_id,
    'clay' as source,
    struct_pack(source := 'clay', file := c.file, row := c.row, "column" := $h_hard_bounced,
                value := c.hard_bounced_raw, at := cast(null as varchar)) as ev
from stg_clay__rows as c
join int_source_rows_matched as i on i.file = c.file and i.row = c.row
where c.hard_bounced and i.lead_id is not null
union all
select
    i.lead_id,
    'smartlead',
    struct_pack(source := 'smartlead', file := e.file, row := e.row, "column" := 'event_type',
                value := e.event_type, at := iso_ts(e.event_at))
from stg_smartlead__events as e
join int_source_rows_matched as i on i.file = e.file and i.row = e.row
left join int_sender_bounces as sb on sb.lead_id = i.lead_id and sb.sl_campaign_id = e.sl_campaign_id
where e.kind = 'bounce' and i.lead_id is not null and sb.lead_id is null
