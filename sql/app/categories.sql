-- Tracks per dislike category on one night.
-- $domain: one domain's items only (NULL: every domain).
select p.category, count(*) as tracks
from scores.track_dislike_profile as p
left join raw.tracks as t using (track_id)
where p.run_date = $run_date and (cast($domain as varchar) is null or coalesce(t.domain, 'music') = $domain)
group by p.category
order by tracks desc
