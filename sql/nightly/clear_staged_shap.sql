-- After publishing: the night's staged SHAP reasons are no longer needed.
delete from scores.staged_shap where run_date = $run_date
