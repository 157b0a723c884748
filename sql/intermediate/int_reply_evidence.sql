-- Reply evidence per CampaignMember: Clay `Replied`, Smartlead EMAIL_REPLY, Smartlead reply_count > 0.
-- Grain: one row per evidence row. Parameters: $clay_header_replied (Clay header, for provenance).
select
    k.sf_campaign_member_id,
    evidence('clay', c.file, c.row, $clay_header_replied, c.replied_raw, null) as ev
from stg_clay__rows as c
join int_campaign_member_links as k on k.file = c.file and k.row = c.row and k.cm_found
where c.replied
union all
select
    k.sf_campaign_member_id,
    evidence('smartlead', e.file, e.row, e.event_type_key, e.event_type, iso_ts(e.event_at))
from stg_smartlead__events as e
join int_campaign_member_links as k on k.file = e.file and k.row = e.row
where e.kind = 'reply'
union all
select
    k.sf_campaign_member_id,
    evidence('smartlead', s.file, s.row, 'reply_count', s.reply_count_raw, null)
from stg_smartlead__leads as s
join int_campaign_member_links as k on k.file = s.file and k.row = s.row
where s.reply_count > 0
