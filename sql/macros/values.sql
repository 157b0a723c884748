-- Value macros shared by every model: Salesforce ids, booleans, emails, timestamps, evidence, blocked reasons.
-- Parameters: none. Loaded once per connection, before any model runs.
-- sf_id18(raw) — 15 → 18 characters; an 18-character id keeps its first 15 characters and must carry their
-- checksum (compared case-insensitively); anything else → NULL — is a vectorised function registered by
-- reconcile.sql.connect (see reconcile/ids.py), not a macro: it runs on every id column of every file.

create or replace macro is_blank(raw) as raw is null or trim(raw) = '' or lower(trim(raw)) = 'null';

-- (a simple CASE, not `in (...)`: DuckDB plans a constant IN list as a join, and a join in the read would lose the
-- file's row order that row numbers are taken from — see reconcile/ingest/snapshots.py read_in_file_order)
-- Exports write 'true' / 'false' (some tools upper-case): those are matched as they are, without lower(trim()) (6 Lead
-- columns at 1M leads: 0.41 → 0.11 CPU s); any other spelling goes through the full match.
create or replace macro sf_bool(raw) as
    case raw when 'true' then true when 'false' then false when 'TRUE' then true when 'FALSE' then false else
        case lower(trim(raw))
            when 'true' then true when '1' then true when 'yes' then true when 'y' then true when 't' then true
            when 'false' then false when '0' then false when 'no' then false when 'n' then false when 'f' then false
        end
    end;

-- timestamps with an offset are converted to UTC; without one they are taken as UTC (documented). A blank value
-- (is_blank) is NULL without testing for it: try_cast gives NULL for '', spaces and 'null' (the test cost 3×).
-- The value is cast as it is first (DuckDB's cast skips surrounding whitespace itself), trimmed only when that gives
-- NULL: trim() on every value cost more than the cast (1M SystemModstamps: 0.135 → 0.060 CPU s).
create or replace macro sf_ts(raw) as coalesce(try_cast(raw as timestamptz), try_cast(trim(raw) as timestamptz));

-- sf_id18 in the read (contract.PARSERS) and in models listed in reconcile.sql CHECKED_IDS: an 18-byte value —
-- almost every id of an export — is taken as it is and checked afterwards, in bulk, by reconcile.ids.correct_ids,
-- which corrects the few that are not valid 18-character ids. The Arrow function runs under Python's lock, so a
-- read that called it on every value ran on one thread (CampaignMember's 1.5M LeadIds: 0.42 → 0.12 s for the read,
-- + ~0.1 s for the bulk check).
create or replace macro sf_id18_read(raw) as case when strlen(raw) = 18 then raw else sf_id18(raw) end;

-- a typed value is malformed when it is not blank but its parsed value (sf_id18 / sf_bool / sf_ts / sf_int,
-- computed once in the read, see reconcile/ingest/contract.py PARSERS) is NULL
create or replace macro is_malformed(raw, parsed) as parsed is null and not is_blank(raw);

create or replace macro is_bad_json(raw) as case when json_valid(raw) then false else not is_blank(raw) end;

-- a NUL byte in a text value is damage (a file zero-filled after a crash, UTF-16 read as UTF-8): no Salesforce field
-- holds one, so it is a bad value like a malformed id — never planned from or written
create or replace macro is_bad_text(raw) as contains(raw, chr(0));

-- surrounding whitespace, including no-break and zero-width spaces (a plain trim() removes only spaces). Most values
-- have none: testing the first and last character is ~6× cheaper than trim() with a Unicode set, which runs only then.
create or replace macro is_space(ch) as ascii(ch) in (9, 10, 13, 32, 160, 8203, 65279);

create or replace macro trim_space(raw) as
    case when not is_space(raw[1]) and not is_space(raw[-1]) then raw
         else trim(raw, ' ' || chr(9) || chr(10) || chr(13) || chr(160) || chr(8203) || chr(65279)) end;

-- emails: trimmed, 'mailto:' dropped, lower-cased for matching (the raw value is kept beside it).
-- (most emails hold no ':' at all, so only those that do are looked at for the prefix)
create or replace macro unmailto(t) as case when starts_with(lower(t), 'mailto:') then trim_space(t[8:]) else t end;

create or replace macro norm_email(raw) as
    nullif(lower(case when contains(raw, ':') then unmailto(trim_space(raw)) else trim_space(raw) end), '');

create or replace macro clean_text(raw) as nullif(trim_space(raw), '');

-- a whole number, written as one (a Parquet DOUBLE column's 2.0 too), surrounding spaces allowed: DuckDB's cast alone
-- rounds 2.5 to 3 and reads 0x10, 1e3 and 1_000, which are bad values here (only reply_count is an int column).
-- Regular expressions, not trim_space: its IN list in the read's plan is a join, which would not keep the row order.
create or replace macro sf_int(raw) as
    case when regexp_full_match(raw, '[\s\x{A0}\x{200B}\x{FEFF}]*[+-]?[0-9]+(\.0*)?[\s\x{A0}\x{200B}\x{FEFF}]*')
        then try_cast(regexp_extract(raw, '[+-]?[0-9]+') as bigint) end;

-- evidence: where a value came from — source system, snapshot file, row, column (header) and value, and the time
-- the source gives it (NULL when it has none). Every evidence list in the plan holds these, in this shape.
create or replace macro evidence(source, file, "row", col, value, "at") as
    struct_pack(source := cast(source as varchar), file := cast(file as varchar), "row" := cast("row" as bigint),
                "column" := cast(col as varchar), value := cast(value as varchar), "at" := cast("at" as varchar));

-- sfdc_evidence: the first evidence of every change, the Salesforce row its `before` (JSON) was read from; each rule
-- builds its list with it (prepending it to every list afterwards copied them all)
create or replace macro sfdc_evidence(file, "row", field, before) as
    evidence('sfdc', file, "row", field, before ->> '$', null);

-- reasons: the blocked reasons that apply, from a list of `case when <condition> then '<reason>' end` (NULLs dropped)
create or replace macro reasons(candidates) as list_filter(candidates, lambda r: r is not null);

-- sf_length: a text's length as Salesforce counts it (max length, STRING_TOO_LONG): Java's String.length(), UTF-16
-- code units, so a character beyond U+FFFF (an emoji, 😀) counts 2; DuckDB's length() counts it 1 (code points).
create or replace macro sf_length(t) as length(t) + length(regexp_replace(t, '[^\x{10000}-\x{10FFFF}]', '', 'g'));
-- sf_too_long: longer than n as Salesforce counts. A text's UTF-8 bytes (strlen) are never fewer than its UTF-16
-- code units, so nearly every value is settled by strlen alone and the regular expression runs on the rest.
create or replace macro sf_too_long(t, n) as strlen(t) > n and sf_length(t) > n;

-- iso_ts: an evidence time in UTC as ISO 8601, with its fraction of a second when it has one (milliseconds, as
-- Salesforce and Smartlead write them, or microseconds): the tie-breaks order by the full time, so evidence that
-- dropped the fraction would show a tie where one time won.
create or replace macro iso_ts(ts) as case
    when microsecond(ts) % 1000000 = 0 then strftime(ts at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ')
    when microsecond(ts) % 1000 = 0 then strftime(ts at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ')
    else strftime(ts at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')
end;

-- a cell of a spreadsheet-safe CSV (reconcile.csvsafe.cell: `export-members` writes one, and Clay hands it back in its
-- table export): the `'` put before a formula trigger (= + - @ tab CR) is not part of the value; a number is never
-- prefixed, so `'-5` is a value of its own.
create or replace macro unsheet(raw) as
    case when starts_with(raw, '''') and regexp_matches(raw, '^''[=+\-@\t\r]')
              and not regexp_full_match(raw[2:], '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?')
         then raw[2:] else raw end;

-- an enrichment value as the rules compare it (int_enrichment_values, rule_enrichment_fill_if_blank,
-- find_conflicting_enrichment): Industry case-insensitively (the picklist decides the spelling), text as it is.
create or replace macro enrichment_norm(field, value) as case when field = 'Industry' then lower(value) else value end;
