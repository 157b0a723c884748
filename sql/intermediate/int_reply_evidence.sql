-- Reply evidence per CampaignMember: Clay `Replied`, Smartlead EMAIL_REPLY, Smartlead reply_count > 0.
-- Grain: one row per evidence row. Parameters: $h_replied (Clay header, for provenance).
select
    k.cm_id,
    struct_pack(source := 'clay', file := c.file, row := c.row, "column" := $h_replied,
                value := c.replied_raw, at := cast(null as varchar)) as ev
from stg_clay__rows as c
join int_campaign_member_links as k on k.file = c.file and k.row = c.row and k.cm_found
where c.replied
union all
select
    k.cm_id,
    struct_pack(source := 'smartlead', file := e.file, row := e.row, "column" := 'event_type',
                value := e.event_type, at := iso_ts(e.event_at))
from stg_smartlead__events as e
join int_campaign_member_links as k on k.file = e.file and k.row = e.row
where e.kind = 'reply'
union all
select
    k.cm_id,
    struct_pack(source := 'smartlead', file := s.file, row := s.row, "column" := 'reply_count',
                value := s.reply_count_raw, at := cast(null as varchar))
from stg_smartlead__leads as s
join int_campaign_member_links as k on k.file = s.file and k.row = s.row
where s.reply_count > 0
