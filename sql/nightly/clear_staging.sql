-- After publishing: the night's staged scores are no longer needed (its candidates stay, for the record).
delete from scores.staged_scores where run_date = $run_date
