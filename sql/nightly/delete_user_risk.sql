-- Remove a night from scores.user_risk before publishing it again (a re-run replaces it exactly).
delete from scores.user_risk where run_date = $run_date
