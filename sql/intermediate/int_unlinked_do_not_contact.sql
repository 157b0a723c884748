-- "Do Not Contact" categories (Clay `Reply Category`, Smartlead LEAD_CATEGORY_UPDATED, leads-export `category`) in
-- source rows that reach their Lead but no CampaignMember: find_do_not_contact_reply tells the DPO on the Lead (a
-- legal signal never stops at identity). Small, and built early, so the identity tables it reads can be dropped.
-- Grain: one row per source row. Parameters: $value_do_not_contact (the category, policy [source_values]),
-- $clay_header_reply_category (the Clay header, for provenance).
with categories as (
    select file, row, evidence('clay', file, row, $clay_header_reply_category, reply_category, iso_ts(reply_at)) as ev
    from stg_clay__rows
    where lower(reply_category) = lower($value_do_not_contact)
    union all
    select file, row, evidence('smartlead', file, row, new_category_key, new_category, iso_ts(event_at))
    from stg_smartlead__events
    where kind = 'category' and lower(new_category) = lower($value_do_not_contact)
    union all
    select file, row, evidence('smartlead', file, row, 'category', category, iso_ts(taken_at))
    from stg_smartlead__leads
    where lower(category) = lower($value_do_not_contact)
)
select i.sf_lead_id, c.ev
from categories as c
join int_source_rows_matched as i on i.file = c.file and i.row = c.row and i.sf_lead_id is not null
anti join (select file, row from int_campaign_member_links where cm_found) as k on k.file = c.file and k.row = c.row
