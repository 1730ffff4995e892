-- The night's artists with the most at-risk pairs.
-- $domain: one domain's items only (NULL: every domain).
select coalesce(t.artist, '?') as artist, sum(s.at_risk::int) as at_risk_pairs, count(*) as scored_pairs,
       avg(s.p_dislike) as mean_p_dislike
from scores.dislike_scores as s
left join raw.tracks as t using (track_id)
where s.run_date = $run_date and (cast($domain as varchar) is null or s.domain = $domain)
group by all
order by at_risk_pairs desc, artist
limit 15
