-- How many members of one campaign the member export writes (Leads) and leaves out (Contacts).
-- Grain: one row. Parameters: $campaign_id (18 characters).
select
    count(*) filter (where sf_lead_id is not null) as lead_members,
    count(*) filter (where sf_lead_id is null) as contact_members
from stg_sfdc__campaign_member
where sf_campaign_id = $campaign_id
