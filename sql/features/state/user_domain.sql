-- grain: user_id, domain
-- features.state_user_domain: per listener, domain (music, podcast, ...: raw.tracks.domain) and day with plays,
-- running totals: plays, dislikes.
select user_id, domain, day, count(*) as plays, sum(label)::bigint as dislikes
from fx_rows_out
group by user_id, domain, day
