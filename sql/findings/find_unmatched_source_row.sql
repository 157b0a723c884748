-- Finding unmatched_source_row: a source row reaching no Lead (its Lead id not in the snapshot, its email matching
-- none — a Contact's email included — or its Lead a row lenient mode quarantined), a Clay CampaignMember id not in
-- the snapshot, a Clay reply signal (Replied, Reply Category) on a row that reaches its Lead but names no
-- CampaignMemberId, or Smartlead reply evidence
-- of a Lead reaching no CampaignMember. Nothing is dropped silently. Grain: one row per source row.
-- A row that reaches no Lead but does reach a CampaignMember (a Clay row with only its CampaignMemberId, an event
-- through its map id) says so: its CampaignMember values are used, its Lead values are not.
-- Parameters: $clay_header_campaign_member_id, $clay_header_replied, $clay_header_reply_category (the Clay headers,
-- for provenance).
select
    'unmatched_source_row' as kind,
    'Lead' as object,
    case when i.match in ('id_not_found', 'rejected') then i.given_id end as record_id,
    case i.match
        when 'id_not_found' then i.source || ' row names Lead ' || i.given_id || case left(i.given_id, 3)
            when '00Q' then ', which is not in the Lead snapshot.'
            when '003' then ', but that is a Contact id (key prefix 003), not a Lead id: Contacts are read-only context.'
            else ', but that is no Lead id (a Lead id begins 00Q).'
        end
        when 'rejected' then i.source || ' row ' || case when i.given_id is not null then 'names' else 'matches by email' end
            || ' Lead ' || i.candidates[1] || ', a row this lenient plan quarantined (see rejects): '
            || 'nothing is planned from this row for it.'
        when 'contact' then i.source || ' row matches no Lead: email ' || i.email_norm
            || ' is a Contact''s (Contacts are read-only context: its values are not used).'
        else i.source || ' row matches no Lead (email ' || coalesce(i.email_norm, 'missing') || ').'
    end || coalesce(' It reaches CampaignMember ' || k.sf_campaign_member_id
        || ': only its CampaignMember values are used.', '') as detail,
    cast(null as varchar) as at,
    [evidence(i.source, i.file, i.row, case when i.given_id is not null then i.id_column else i.email_column end,
              coalesce(i.given_id, i.email_raw), null)] as evidence
from int_source_rows_matched as i
left join int_campaign_member_links as k on k.file = i.file and k.row = i.row and k.cm_found
where i.match in ('unmatched', 'id_not_found', 'contact', 'rejected')
union all
select
    'unmatched_source_row', 'CampaignMember', k.sf_campaign_member_id,
    'Clay row names CampaignMember ' || k.sf_campaign_member_id || coalesce(
        ' (rejected: ' || x.file || ' row ' || x.row || '), a row this lenient plan quarantined (see rejects).',
        ', which is not in the CampaignMember snapshot.'
    ),
    cast(null as varchar),
    [evidence('clay', k.file, k.row, $clay_header_campaign_member_id, k.sf_campaign_member_id, null)]
from int_campaign_member_links as k
left join (
    select record_id, min(file) as file, min(row) as row from rejected_records where object = 'CampaignMember'
    group by record_id
) as x on x.record_id = k.sf_campaign_member_id
where not k.cm_found
union all
select
    'unmatched_source_row', 'CampaignMember', cast(null as varchar),
    'Clay row names no CampaignMemberId; its reply signal cannot be used.',
    cast(null as varchar),
    [
        evidence(
            'clay', c.file, c.row, case when c.replied then $clay_header_replied else $clay_header_reply_category end,
            case when c.replied then c.replied_raw else c.reply_category end, null
        )
    ]
from stg_clay__rows as c
-- a row reaching no Lead either is reported once, above
join int_source_rows_matched as i on i.file = c.file and i.row = c.row and i.sf_lead_id is not null
where c.sf_campaign_member_id is null and (c.replied or c.reply_category is not null)
union all
select
    'unmatched_source_row', 'CampaignMember', cast(null as varchar),
    'Smartlead ' || e.what || ' for ' || coalesce(e.email_norm, '?')
        || ' reaches no CampaignMember; its reply signal cannot be used.',
    cast(null as varchar),
    [evidence('smartlead', e.file, e.row, e.email_key, e.email_norm, iso_ts(e.event_at))]
from (
    -- a webhook event is named by its type, a leads-export row as a row whatever its file's format (.csv or .jsonl)
    select file, row, event_type || ' event' as what, email_norm, email_key, event_at from stg_smartlead__events
    where kind in ('reply', 'category')
    union all
    select file, row, 'row', email_norm, 'email', cast(null as timestamptz) from stg_smartlead__leads
    where reply_count > 0 or category is not null
) as e
join int_source_rows_matched as i on i.file = e.file and i.row = e.row and i.sf_lead_id is not null
left join int_campaign_member_links as k on k.file = e.file and k.row = e.row
where k.sf_campaign_member_id is null
