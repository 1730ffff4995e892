-- One listener's latest plays before the night: skips and dislikes (the label, sql/features/play_macros.sql).
select e.ts, t.title, t.artist, t.genres[1] as genre, e.context_type, e.ms_played, e.feedback,
       fx_label(e.feedback, e.ms_played, e.skipped, fx_abandon_ms(t.domain, $label_domains, $label_abandon_ms))::bool as disliked,
       e.track_id
from raw.events as e
left join raw.tracks as t using (track_id)
where e.user_id = $user_id and e.ts < $cutoff
order by e.ts desc
limit 30
