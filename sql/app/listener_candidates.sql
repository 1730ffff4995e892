-- One listener's candidates on one night, riskiest first.
-- $domain: one domain's candidates only (NULL: every domain), each with its domain.
select s.domain, s.rank_in_user, s.track_id, t.title, t.artist, t.genres[1] as genre, s.source,
       s.p_dislike, s.p_dislike_baseline, s.at_risk
from scores.dislike_scores as s
left join raw.tracks as t using (track_id)
where s.run_date = $run_date and s.user_id = $user_id and (cast($domain as varchar) is null or s.domain = $domain)
order by s.domain <> 'music', s.domain, s.rank_in_user
