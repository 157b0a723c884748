-- Salesforce CampaignMembers: typed, ids 18 characters.
-- Grain: one row per CampaignMember. Parameters: none.
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    id__id18 as sf_campaign_member_id,
    campaign_id__id18 as sf_campaign_id,
    lead_id__id18 as sf_lead_id,
    contact_id__id18 as sf_contact_id,
    status,
    coalesce(has_replied__bool, false) as has_replied,
    reply_classification,
    system_modstamp__ts as system_modstamp,
    _file as file,
    _row as row
from raw_sfdc__campaign_member
