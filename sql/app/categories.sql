-- Tracks per dislike category on one night.
select category, count(*) as tracks
from scores.track_dislike_profile
where run_date = $run_date
group by category
order by tracks desc
