-- Identity (SPEC §3): every Clay, Smartlead and Pardot row resolved to one Lead — by the Lead Id it carries,
-- else by normalised email matching exactly one Lead. Grain: one row per source row.
-- A row reaching no Lead is 'id_not_found', 'ambiguous', 'unmatched', 'contact' (its email is a Contact's: still no
-- Lead, find_unmatched_source_row says so), 'rejected' (its id or its email's only Lead is a Lead row lenient mode
-- quarantined) or 'contact_prospect' (a Pardot prospect Pardot itself links to a Contact and to no Lead: a Contact's
-- prospect, which reconcile neither matches nor writes). Quarantined Lead rows (rejected_records) still count as
-- Leads of the org: an email one of them shares with another Lead is ambiguous, not the other Lead's.
-- Parameters: $clay_header_lead_id, $clay_header_email (the Clay headers, for provenance; Pardot's come from
-- snapshot_headers, as its file names them).
-- Two branches: rows that carry an id only look the id up; only the others probe the email indexes
-- (at 10M leads, probing every row against four hash tables was the slowest step of the build).
-- A row's identity details (emails, the id it gave, the columns they came from, candidates) are kept only when it
-- reached no Lead: only the findings on such rows read them (unmatched_source_row, ambiguous_match), and the rows
-- that matched are most of 4M at 1M leads (1.0 CPU s less for this table, read narrower by every join on it).
with pardot_headers as (  -- the id and email columns as the Pardot file names them (v3/v4: crm_lead_fid)
    select
        file,
        any_value(header) filter (where column_name = 'sf_lead_id') as id_header,
        any_value(header) filter (where column_name = 'email') as email_header
    from snapshot_headers
    where source = 'pardot__prospects'
    group by file
),
source_rows as not materialized (
    select 'clay' as source, file, row, sf_lead_id as given_id, $clay_header_lead_id as id_column, email_norm, email_raw,
           $clay_header_email as email_column
    from stg_clay__rows
    union all
    select 'smartlead', file, row, sf_lead_id, 'custom_fields.sfdc_lead_id', email_norm, email_raw, 'email'
    from stg_smartlead__leads
    union all
    select 'smartlead', file, row, sf_lead_id, sf_lead_id_key, email_norm, email_norm, email_key
    from stg_smartlead__events
    union all
    select 'pardot', p.file, p.row, p.sf_lead_id, coalesce(h.id_header, 'salesforceLeadId'), p.email_norm, p.email_raw,
           coalesce(h.email_header, 'email')
    from stg_pardot__prospects as p
    left join pardot_headers as h on h.file = p.file
),
leads_by_email as (
    select email_norm, count(*) as n, min(sf_lead_id) as sf_lead_id
    from stg_sfdc__lead
    where email_norm is not null
    group by email_norm
),
shared_emails as (  -- the candidates of an ambiguous email (a list per email only where there are several)
    select l.email_norm, list_sort(list(l.sf_lead_id)) as candidates
    from stg_sfdc__lead as l
    semi join (select email_norm from leads_by_email where n > 1) as d on d.email_norm = l.email_norm
    group by l.email_norm
),
rejected_leads as (  -- empty unless lenient mode quarantined Lead rows; a candidate names the rejected row
    select record_id, email_norm, coalesce(record_id, 'a Lead') || ' (rejected: ' || file || ' row ' || row || ')' as label
    from rejected_records
    where object = 'Lead'
),
rejected_ids as (
    select record_id, min(label) as label from rejected_leads where record_id is not null group by record_id
),
rejected_emails as (
    select email_norm, count(*) as n, list_sort(list(label)) as candidates
    from rejected_leads
    where email_norm is not null
    group by email_norm
),
contact_emails as (
    select distinct email_norm from stg_sfdc__contact where email_norm is not null
),
pardot_contacts as (
    select file, row from stg_pardot__prospects where sf_contact_id is not null and sf_lead_id is null
)
select
    r.source, r.file, r.row,
    case when l.sf_lead_id is null then r.email_norm end as email_norm,
    case when l.sf_lead_id is null then r.email_raw end as email_raw,
    case when l.sf_lead_id is null then r.given_id end as given_id,
    case when l.sf_lead_id is null then r.id_column end as id_column,
    case when l.sf_lead_id is null then r.email_column end as email_column,
    l.sf_lead_id,
    case when l.sf_lead_id is not null then 'by_id' when x.record_id is not null then 'rejected'
         else 'id_not_found' end as match,
    case when l.sf_lead_id is null and x.record_id is not null then [x.label] end as candidates
from source_rows as r
left join stg_sfdc__lead as l on l.sf_lead_id = r.given_id
left join rejected_ids as x on x.record_id = r.given_id
where r.given_id is not null
union all
select
    r.source, r.file, r.row,
    case when not r.one then r.email_norm end as email_norm,
    case when not r.one then r.email_raw end as email_raw,
    case when not r.one then r.given_id end as given_id,
    case when not r.one then r.id_column end as id_column,
    case when not r.one then r.email_column end as email_column,
    case when r.one then r.sf_lead_id end as sf_lead_id,
    case when r.one then 'by_email'
         when r.n > 1 then 'ambiguous'
         when r.n = 1 then 'rejected'
         when r.contact_prospect then 'contact_prospect'
         when c.email_norm is not null then 'contact'
         else 'unmatched' end as match,
    -- the Leads an ambiguous email (or a rejected Lead's) names: the staged ones, then the rejected rows
    case when not r.one and r.n > 0 then list_concat(
        coalesce(r.shared, case when r.n_staged = 1 then [r.sf_lead_id] end), r.rejected
    ) end as candidates
from (
    select
        r.*,
        e.sf_lead_id,
        e.n as n_staged,
        se.candidates as shared,
        re.candidates as rejected,
        pc.file is not null as contact_prospect,
        coalesce(e.n, 0) + coalesce(re.n, 0) as n,
        coalesce(e.n = 1 and re.n is null, false) as one
    from source_rows as r
    -- a Contact's prospect is never matched to a Lead by its email (a Lead with the same email has its own prospect)
    left join pardot_contacts as pc on pc.file = r.file and pc.row = r.row
    left join leads_by_email as e on e.email_norm = r.email_norm and pc.file is null
    left join shared_emails as se on se.email_norm = r.email_norm and pc.file is null
    left join rejected_emails as re on re.email_norm = r.email_norm and pc.file is null
    where r.given_id is null
) as r
left join contact_emails as c on c.email_norm = r.email_norm
