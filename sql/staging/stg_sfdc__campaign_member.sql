-- Salesforce CampaignMembers: typed, ids 18 characters.
-- Grain: one row per CampaignMember. Parameters: none.
select
    sf_id18(id) as cm_id,
    sf_id18(campaign_id) as campaign_id,
    sf_id18(lead_id) as lead_id,
    sf_id18(contact_id) as contact_id,
    status,
    coalesce(sf_bool(has_replied), false) as has_replied,
    reply_classification,
    sf_ts(system_modstamp) as system_modstamp,
    _file as file,
    _row as row
from raw_sfdc__campaign_member
