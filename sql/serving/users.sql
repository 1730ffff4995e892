-- Serving snapshot: the listener profile (raw.users) behind the u_ profile features.
select user_id, signup_date, birth_year, country as u_country, product as u_product
from raw.users
order by user_id
