-- Bad input inside Smartlead's custom_fields (SPEC §2: an invalid id is an error naming file, row, column and value;
-- --lenient quarantines the row): a Salesforce id given as text that staging could not type (sf_lead_id NULL:
-- not 15/18 letters and digits, or a bad checksum, found by the bulk check after the model).
-- Run right after stg_smartlead__leads, before the raw rows are freed (snapshots.check_staged).
-- Grain: one row per bad value (file, row, col, value, expected), as `rejects`. Parameters: $expected_id.
select
    file,
    row,
    'custom_fields.sfdc_lead_id' as col,
    sf_lead_id_given as value,
    $expected_id as expected
from stg_smartlead__leads
where sf_lead_id is null and not is_blank(sf_lead_id_given)
union all
select
    file,
    row,
    'custom_fields.sfdc_campaign_id',
    sf_campaign_id_given,
    $expected_id
from stg_smartlead__leads
where sf_campaign_id is null and not is_blank(sf_campaign_id_given)
