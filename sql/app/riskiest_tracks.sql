-- The night's riskiest tracks (enough listeners to say), with their title, artist, first genre and category.
-- $domain: one domain's items only (NULL: every domain).
select t.title, p.artist, t.genres[1] as genre, p.n_listeners, p.mean_p_dislike, p.share_at_risk, p.category, p.track_id
from scores.track_dislike_profile as p
left join raw.tracks as t using (track_id)
where p.run_date = $run_date and p.category <> 'niche'
  and (cast($domain as varchar) is null or coalesce(t.domain, 'music') = $domain)
order by p.share_at_risk desc, p.mean_p_dislike desc, p.track_id
limit 15
