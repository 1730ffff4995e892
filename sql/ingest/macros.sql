-- Reading text fields of landing files, one definition for every ingest path (created per ingest
-- connection, as temp macros, before any file is read).

-- Text without the whitespace around it, of any kind: spaces, tabs, line breaks, no-break and other
-- Unicode spaces, a stray byte-order mark. Empty text is NULL. Ids go through this, so ' u1\t' is 'u1'.
create or replace temp macro clean_text(x) as
    nullif(regexp_replace(cast(x as varchar), '^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$', '', 'g'), '');

-- A whole number written in decimal digits (a sign and a fraction of zeros allowed: '-3', '15000.0'), else
-- NULL: '0x10', '15000.7', '1e3' or ' 12 apples' are not read as numbers (DuckDB's cast would take the first
-- as 16 and round the second). Out of BIGINT's range: NULL too.
create or replace temp macro whole_number(x) as
    case when regexp_full_match(clean_text(x), '[+-]?[0-9]+(\.0*)?')
         then try_cast(regexp_replace(clean_text(x), '\.0*$', '') as bigint) end;

-- A finite number in decimal or scientific notation ('0.5', '-.5', '1e-3'), else NULL: not 'nan', 'inf', '0x10'.
create or replace temp macro real_number(x) as
    case when regexp_full_match(clean_text(x), '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')
         then try_cast(clean_text(x) as double) end;

-- A date in one of the forms dates are known in, named by `form`, else NULL. The whole text must have the
-- form's shape: '15-07-18' is not read as the year 15 by the ISO form. A file's form is decided from its
-- own values (mssd_date_form.sql). strptime needs constant formats, hence one branch per form.
create or replace temp macro read_date(x, form) as
    case
        when form = 'YYYY-MM-DD' and regexp_full_match(clean_text(x), '[0-9]{4}-[0-9]{2}-[0-9]{2}')
            then cast(try_strptime(clean_text(x), '%Y-%m-%d') as date)
        when form = 'DD-MM-YY' and regexp_full_match(clean_text(x), '[0-9]{2}-[0-9]{2}-[0-9]{2}')
            then cast(try_strptime(clean_text(x), '%d-%m-%y') as date)
        when form = 'DD-MM-YYYY' and regexp_full_match(clean_text(x), '[0-9]{2}-[0-9]{2}-[0-9]{4}')
            then cast(try_strptime(clean_text(x), '%d-%m-%Y') as date)
    end;

-- Control characters (C0, DEL, C1) in text. No id or label may hold one: a NUL byte in a key reaches SQL text that
-- DuckLake builds for its catalog (a join's filter on that key) and ends it there, so one such value would stop
-- every later read of the table. Free text (titles, artists) may hold tabs and line breaks, no other control.
create or replace temp macro control_char(x) as regexp_matches(cast(x as varchar), '[\x00-\x1F\x7F-\x9F]');
create or replace temp macro control_in_text(x) as regexp_matches(cast(x as varchar), '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]');

-- The problem of an id or label (`name` its column), or NULL: a control character, or more than `max_chars` characters
-- (the API's requests are bounded by the same rules: skipify.ingest.rules).
create or replace temp macro key_problem(name, x, max_chars) as
    case
        when control_char(x) then name || ' holds a control character'
        when length(x) > max_chars then name || ' is longer than ' || cast(max_chars as varchar) || ' characters'
    end;

-- The problem of free text (a title, an artist), or NULL.
create or replace temp macro text_problem(name, x) as
    case when control_in_text(x) then name || ' holds a control character' end;

-- A reason as quarantine stores it: the values it quotes without control characters (each shown as U+FFFD).
create or replace temp macro printable(x) as regexp_replace(x, '[\x00-\x1F\x7F-\x9F]', '�', 'g');
