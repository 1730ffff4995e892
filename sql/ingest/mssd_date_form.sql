-- The form of an MSSD log file's dates, decided from its own values (`src`): the form (of read_date's,
-- macros.sql) that reads the most of them, ISO first on a tie. The published data writes ISO dates
-- (2018-07-15); a public copy writes day-month-year (15-07-18, 15 July 2018).
with forms (pos, date_form) as (
    values (1, 'YYYY-MM-DD'), (2, 'DD-MM-YY'), (3, 'DD-MM-YYYY')
)

select f.date_form, count(read_date(s.date, f.date_form)) as n_read
from forms as f
cross join src as s
group by f.pos, f.date_form
order by n_read desc, f.pos
limit 1
