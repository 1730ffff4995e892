-- One listener's latest plays before the night: skips and dislikes (the label's rule, 30 s).
select e.ts, e.track_id, t.title, t.artist, e.context_type, e.ms_played, e.feedback,
       (coalesce(e.feedback = 'dislike', false) or coalesce(e.ms_played < $threshold_ms, e.skipped, false)) as disliked
from raw.events as e
left join raw.tracks as t using (track_id)
where e.user_id = $user_id and e.ts < $cutoff
order by e.ts desc
limit 30
