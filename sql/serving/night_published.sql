-- Whether a night ($run_date) has been published.
select count(*) > 0 from ops.runs where run_date = $run_date and status = 'published'
