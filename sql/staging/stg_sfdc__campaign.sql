-- Salesforce Campaigns (optional file): names and GBU for the report.
-- Grain: one row per Campaign. Parameters: none.
select
    sf_id18(id) as campaign_id,
    clean_text(name) as name,
    clean_text(gbu) as gbu
from raw_sfdc__campaign
