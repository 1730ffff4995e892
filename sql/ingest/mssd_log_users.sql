-- One pseudo-user per MSSD session, with its product tier.
select
    min(record_number) as record_number,
    'mssd:' || clean_text(session_id) as user_id,
    case bool_or(try_cast(premium as boolean)) when true then 'premium' when false then 'free' end as product
from src
where clean_text(session_id) is not null
group by clean_text(session_id)
