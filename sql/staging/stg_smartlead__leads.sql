-- Smartlead leads-export rows, one file per campaign (campaign id from the file name campaign-<id>).
-- Grain: one row per lead per Smartlead campaign. Parameters: $smartlead_taken_at (export time).
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
-- The Salesforce ids inside custom_fields are typed only here: sql/checks/check_smartlead__leads.sql rejects the
-- ones that are not ids, reading their text back from the raw rows (not kept here: two more columns in this sort ran
-- out of memory at 10M leads under the default limit).
with leads as (
    select *, json_extract_string(custom_fields, ['$.sfdc_lead_id', '$.sfdc_campaign_id']) as cf
    from raw_smartlead__leads
)
select
    _file as file,
    _row as row,
    clean_text(_campaign) as smartlead_campaign_id,
    clean_text(sl_lead_id) as smartlead_lead_id,
    clean_text(map_id) as smartlead_lead_map_id,
    upper(clean_text(status)) as status,
    clean_text(category) as category,
    email as email_raw,
    norm_email(email) as email_norm,
    coalesce(reply_count__int, 0) as reply_count,
    reply_count as reply_count_raw,
    sf_id18_read(cf[1]) as sf_lead_id,  -- checked in bulk after the model (reconcile.sql CHECKED_IDS)
    sf_id18_read(cf[2]) as sf_campaign_id,
    cast($smartlead_taken_at as timestamptz) as taken_at
from leads
-- not sorted: the campaign files are read in one scan (snapshots.read_group), so the raw rows are one table in file
-- and row order and the CREATE writes full row groups. (Files of different shapes are a view over several tables:
-- then DuckDB's checkpoint rewrites the partly filled row groups each table's pipeline leaves — slower, not wrong.)
