-- Finding deliverability_review: Clay's Email Validation says invalid while no system holds a bounce. No write,
-- ever: SFDC is the system of record for deliverability (seed §3.3). Grain: one row per Lead.
-- Parameters: $value_email_invalid (the verdict, policy [source_values]), $clay_header_email_validation (Clay header,
-- for provenance).
with pardot_bounced as (
    select distinct i.sf_lead_id
    from stg_pardot__prospects as p
    join int_source_rows_matched as i on i.file = p.file and i.row = p.row
    where p.is_hard_bounced and i.sf_lead_id is not null
),
invalid as (
    select i.sf_lead_id, list(evidence('clay', c.file, c.row, $clay_header_email_validation, c.email_validation, null)
                           order by c.file, c.row) as evidence
    from stg_clay__rows as c
    join int_source_rows_matched as i on i.file = c.file and i.row = c.row
    where lower(c.email_validation) = lower($value_email_invalid) and i.sf_lead_id is not null
    group by i.sf_lead_id
)
select
    'deliverability_review' as kind,
    'Lead' as object,
    v.sf_lead_id as record_id,
    'Clay validates the email as invalid but no system records a bounce; review deliverability '
        || '(Salesforce stays the system of record, nothing is written).' as detail,
    cast(null as varchar) as at,
    v.evidence
from invalid as v
join stg_sfdc__lead as l on l.sf_lead_id = v.sf_lead_id
where not (l.external_hard_bounced or l.pardot_hard_bounced or l.overall_hard_bounced)
  and v.sf_lead_id not in (select sf_lead_id from int_bounce_evidence)
  and v.sf_lead_id not in (select sf_lead_id from pardot_bounced)
