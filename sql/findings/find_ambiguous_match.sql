-- Finding ambiguous_match: a source row whose email matches several Leads (nothing is changed for it), or a Clay
-- row whose CampaignMemberId is another Lead's or a Contact's member than the Lead the row reaches (its
-- CampaignMember values are not used: int_clay_member_conflicts). Grain: one row per source row.
-- Parameters: $clay_header_lead_id, $clay_header_email, $clay_header_campaign_member_id (the Clay headers, for
-- provenance).
select
    'ambiguous_match' as kind,
    'Lead' as object,
    cast(null as varchar) as record_id,
    'Email ' || coalesce(email_norm, '') || ' matches ' || len(candidates) || ' Leads ('
        || array_to_string(candidates, ', ') || '); nothing is changed for this row.' as detail,
    cast(null as varchar) as at,
    [evidence(source, file, row, case when given_id is not null then id_column else email_column end,
              coalesce(given_id, email_raw), null)] as evidence
from int_source_rows_matched
where match = 'ambiguous'
union all
select
    'ambiguous_match',
    'CampaignMember',
    x.sf_campaign_member_id,
    'Clay row reaches Lead ' || x.sf_lead_id || ' but names CampaignMember ' || x.sf_campaign_member_id || ', which is '
        || coalesce('Lead ' || x.member_lead_id, 'a Contact') || '''s; its CampaignMember values are not used.',
    cast(null as varchar),
    [
        evidence('clay', x.file, x.row, case when x.by_lead_id then $clay_header_lead_id else $clay_header_email end,
                 case when x.by_lead_id then x.sf_lead_id else x.email_raw end, null),
        evidence('clay', x.file, x.row, $clay_header_campaign_member_id, x.sf_campaign_member_id, null)
    ]
from int_clay_member_conflicts as x
