-- Remove a night from scores.track_dislike_profile before publishing it again (a re-run replaces it exactly).
delete from scores.track_dislike_profile where run_date = $run_date
