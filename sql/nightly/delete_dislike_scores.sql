-- Remove a night from scores.dislike_scores before publishing it again (a re-run replaces it exactly).
delete from scores.dislike_scores where run_date = $run_date
