-- Reply-classification events per CampaignMember: Clay (`Reply Category` at `Reply At`), Smartlead
-- LEAD_CATEGORY_UPDATED (new_name at event_timestamp) and leads-export `category` (at the export's taken_at).
-- Blank categories are not events (a blank never clears). priority breaks time ties: Clay (0) wins.
-- Grain: one row per event. Parameters: $clay_header_reply_category (Clay header, for provenance).
select
    k.sf_campaign_member_id,
    c.reply_category as category,
    c.reply_at as event_at,
    0 as priority,
    c.file,
    c.row,
    evidence('clay', c.file, c.row, $clay_header_reply_category, c.reply_category, iso_ts(c.reply_at)) as ev
from stg_clay__rows as c
join int_campaign_member_links as k on k.file = c.file and k.row = c.row and k.cm_found
where c.reply_category is not null
union all
select
    k.sf_campaign_member_id, e.new_category, e.event_at, 1, e.file, e.row,
    evidence('smartlead', e.file, e.row, e.new_category_key, e.new_category, iso_ts(e.event_at))
from stg_smartlead__events as e
join int_campaign_member_links as k on k.file = e.file and k.row = e.row
where e.kind = 'category' and e.new_category is not null and e.event_at is not null
union all
select
    k.sf_campaign_member_id, s.category, s.taken_at, 1, s.file, s.row,
    evidence('smartlead', s.file, s.row, 'category', s.category, iso_ts(s.taken_at))
from stg_smartlead__leads as s
join int_campaign_member_links as k on k.file = s.file and k.row = s.row
where s.category is not null
