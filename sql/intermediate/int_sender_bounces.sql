-- Smartlead "Sender Originated Bounce" categorisations: a sender-side failure, not a recipient hard bounce.
-- Grain: one row per categorising source row.
-- Parameters: $value_sender_originated_bounce (the category, policy [source_values]).
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
