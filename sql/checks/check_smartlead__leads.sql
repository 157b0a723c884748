-- Bad input inside Smartlead's custom_fields (SPEC §2: an invalid id is an error naming file, row, column and value;
-- --lenient quarantines the row): a Salesforce id given as text that staging could not type (sf_lead_id NULL:
-- not 15/18 letters and digits, or a bad checksum, found by the bulk check after the model).
-- Run right after stg_smartlead__leads, while its raw rows still exist (snapshots.check_staged): only the staged
-- rows with a NULL id are joined back to their raw text, so the custom_fields of the others are not parsed again.
-- Grain: one row per bad value (file, row, col, value, expected), as `rejects`. Parameters: $expected_id.
with untyped as (
    select
        file,
        row,
        sf_lead_id is null as lead_null,
        sf_campaign_id is null as campaign_null
    from stg_smartlead__leads
    where sf_lead_id is null or sf_campaign_id is null
),

given as (
    select
        u.file,
        u.row,
        u.lead_null,
        u.campaign_null,
        json_extract_string(r.custom_fields, ['$.sfdc_lead_id', '$.sfdc_campaign_id']) as cf
    from untyped as u
    inner join raw_smartlead__leads as r on r._file = u.file and r._row = u.row
)

select
    file,
    row,
    'custom_fields.sfdc_lead_id' as col,
    cf[1] as value,
    $expected_id as expected
from given
where lead_null and not is_blank(cf[1])
union all
select
    file,
    row,
    'custom_fields.sfdc_campaign_id',
    cf[2],
    $expected_id
from given
where campaign_null and not is_blank(cf[2])
