-- Bad input inside Smartlead webhook payloads (SPEC §2: an unparseable value or an invalid id is an error naming
-- file, row, column and value; --lenient quarantines the event): a time that is not a timestamp, a category event
-- without a time (it could not be ordered against the other classifications), a Salesforce id that is not one.
-- Run right after stg_smartlead__events (snapshots.check_staged).
-- Grain: one row per bad value (file, row, col, value, expected), as `rejects`.
-- Parameters: $expected_timestamp, $expected_id.
select
    file,
    row,
    event_at_key as col,
    coalesce(event_at_given, '') as value,
    $expected_timestamp as expected
from stg_smartlead__events
where event_at is null and (not is_blank(event_at_given) or kind = 'category')
union all
select
    file,
    row,
    'custom_fields.sfdc_lead_id',
    sf_lead_id_given,
    $expected_id
from stg_smartlead__events
where sf_lead_id is null and not is_blank(sf_lead_id_given)
union all
select
    file,
    row,
    'custom_fields.sfdc_campaign_id',
    sf_campaign_id_given,
    $expected_id
from stg_smartlead__events
where sf_campaign_id is null and not is_blank(sf_campaign_id_given)
