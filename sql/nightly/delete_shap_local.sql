-- Remove a night's SHAP reasons before publishing it again.
delete from scores.shap_local where run_date = $run_date
