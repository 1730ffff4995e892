-- Upsert rows for raw.users: new users, and known users whose fields this batch fills or changes.
-- A field the batch leaves empty keeps its stored value; the last record of a key in the file wins.
with lasts as (
    select *
    from checked
    where reason is null
    qualify row_number() over (partition by user_id order by record_number desc) = 1
),

merged as (
    select
        l.user_id,
        coalesce(l.country, u.country) as country,
        coalesce(l.birth_year, u.birth_year) as birth_year,
        coalesce(l.age_band, u.age_band) as age_band,
        coalesce(l.product, u.product) as product,
        coalesce(l.signup_date, u.signup_date) as signup_date,
        u.user_id is null as is_new,
        u.country as old_country, u.birth_year as old_birth_year, u.age_band as old_age_band,
        u.product as old_product, u.signup_date as old_signup_date
    from lasts as l
    left join raw.users as u on u.user_id = l.user_id
)

select
    user_id, country, birth_year, age_band, product, signup_date,
    $source_format as source_format,
    $batch_id as batch_id,
    now() as updated_at
from merged
where is_new
   or country is distinct from old_country
   or birth_year is distinct from old_birth_year
   or age_band is distinct from old_age_band
   or product is distinct from old_product
   or signup_date is distinct from old_signup_date
