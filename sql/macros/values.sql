-- Value normalisation macros shared by every model: Salesforce ids, booleans, emails, timestamps.
-- Parameters: none. Loaded once per connection, before any model runs.
create or replace macro sf_bit(s, i) as
    case when ascii(substr(s, i, 1)) between 65 and 90 then 1 else 0 end;

create or replace macro sf_chunk(s, i) as
    substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345',
           1 + sf_bit(s, i) + 2 * sf_bit(s, i + 1) + 4 * sf_bit(s, i + 2) + 8 * sf_bit(s, i + 3) + 16 * sf_bit(s, i + 4),
           1);

create or replace macro sf_suffix(body) as sf_chunk(body, 1) || sf_chunk(body, 6) || sf_chunk(body, 11);

-- 15 → 18 characters; an 18-character id keeps its first 15 characters and must carry their checksum
-- (compared case-insensitively). Anything else → NULL (is_bad_id tells a bad value from a blank one).
create or replace macro sf_id18(raw) as
    case
        when raw is null or trim(raw) = '' then null
        when not regexp_full_match(trim(raw), '[A-Za-z0-9]{15}|[A-Za-z0-9]{18}') then null
        when length(trim(raw)) = 15 then trim(raw) || sf_suffix(trim(raw))
        when upper(substr(trim(raw), 16, 3)) = sf_suffix(substr(trim(raw), 1, 15))
            then substr(trim(raw), 1, 15) || sf_suffix(substr(trim(raw), 1, 15))
        else null
    end;

create or replace macro is_blank(raw) as raw is null or trim(raw) = '' or lower(trim(raw)) = 'null';

create or replace macro is_bad_id(raw) as not is_blank(raw) and sf_id18(raw) is null;

create or replace macro sf_bool(raw) as
    case
        when lower(trim(raw)) in ('true', '1', 'yes', 'y', 't') then true
        when lower(trim(raw)) in ('false', '0', 'no', 'n', 'f') then false
        else null
    end;

create or replace macro is_bad_bool(raw) as not is_blank(raw) and sf_bool(raw) is null;

-- timestamps with an offset are converted to UTC; without one they are taken as UTC (documented).
create or replace macro sf_ts(raw) as
    case when is_blank(raw) then null else try_cast(trim(raw) as timestamptz) end;

create or replace macro is_bad_timestamp(raw) as not is_blank(raw) and sf_ts(raw) is null;

create or replace macro is_bad_int(raw) as not is_blank(raw) and try_cast(trim(raw) as bigint) is null;

create or replace macro is_bad_json(raw) as not is_blank(raw) and not coalesce(json_valid(raw), false);

create or replace macro is_bad_text(raw) as false;

-- emails: trimmed (incl. no-break and zero-width spaces), 'mailto:' dropped, lower-cased for matching.
create or replace macro norm_email(raw) as
    nullif(lower(regexp_replace(
        regexp_replace(raw, '^[\s\x{00A0}\x{200B}\x{FEFF}]+|[\s\x{00A0}\x{200B}\x{FEFF}]+$', '', 'g'),
        '^mailto:', '', 'i')), '');

create or replace macro clean_text(raw) as
    nullif(regexp_replace(raw, '^[\s\x{00A0}]+|[\s\x{00A0}]+$', '', 'g'), '');

create or replace macro iso_ts(ts) as strftime(ts at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ');
