-- Contract checks for a staged users batch (temp table `stage`).
with typed as (
    select
        record_number,
        clean_text(user_id) as user_id,
        upper(clean_text(country)) as country,
        try_cast(whole_number(birth_year) as integer) as birth_year,
        clean_text(age_band) as age_band,
        lower(clean_text(product)) as product,
        try_cast(signup_date as date) as signup_date,
        cast(birth_year as varchar) as birth_year_raw,
        cast(signup_date as varchar) as signup_date_raw
    from stage
),

checked as (
    select
        * exclude (birth_year_raw, signup_date_raw),
        nullif(concat_ws('; ',
            case when user_id is null then 'missing user_id' else key_problem('user_id', user_id, $max_id_chars) end,
            key_problem('age_band', age_band, $max_label_chars),
            case
                when birth_year_raw is not null and birth_year is null then 'birth_year is not an integer: ' || printable(left(birth_year_raw, $max_quoted_chars))
                when birth_year not between 1900 and year(current_date) then 'birth_year out of range'
            end,
            case when product not in ('free', 'premium') then 'product must be free or premium: ' || printable(left(product, $max_quoted_chars)) end,
            case when signup_date_raw is not null and signup_date is null then 'signup_date is not a date: ' || printable(left(signup_date_raw, $max_quoted_chars)) end,
            case when length(country) <> 2 then 'country must be a 2-letter code: ' || printable(left(country, $max_quoted_chars)) end
        ), '') as reason
    from typed
)

select * from checked
