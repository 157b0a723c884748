-- "Sender Originated Bounce" categorisations: a sender-side failure, not a recipient hard bounce. Smartlead's own
-- (leads-export `category`, LEAD_CATEGORY_UPDATED) and Clay's `Reply Category`, which carries Smartlead's category
-- over the Smartlead → Clay hop (seed 3.4) and names the Smartlead campaign in `Smartlead Campaign ID`.
-- Grain: one row per categorising source row.
-- Parameters: $value_sender_originated_bounce (the category, policy [source_values]), $clay_header_reply_category
-- (Clay header, for provenance).
select i.sf_lead_id, s.smartlead_campaign_id,
       evidence('smartlead', s.file, s.row, 'category', s.category, iso_ts(s.taken_at)) as ev
from stg_smartlead__leads as s
join int_source_rows_matched as i on i.file = s.file and i.row = s.row
where lower(s.category) = lower($value_sender_originated_bounce) and i.sf_lead_id is not null
union all
select i.sf_lead_id, e.smartlead_campaign_id,
       evidence('smartlead', e.file, e.row, e.new_category_key, e.new_category, iso_ts(e.event_at))
from stg_smartlead__events as e
join int_source_rows_matched as i on i.file = e.file and i.row = e.row
where e.kind = 'category' and lower(e.new_category) = lower($value_sender_originated_bounce)
  and i.sf_lead_id is not null
union all
select i.sf_lead_id, c.smartlead_campaign_id,
       evidence('clay', c.file, c.row, $clay_header_reply_category, c.reply_category, iso_ts(c.reply_at))
from stg_clay__rows as c
join int_source_rows_matched as i on i.file = c.file and i.row = c.row
where lower(c.reply_category) = lower($value_sender_originated_bounce) and i.sf_lead_id is not null
