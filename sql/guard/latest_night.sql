-- The latest published night (NULL: none yet).
select max(run_date) from scores.dislike_scores
