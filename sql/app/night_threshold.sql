-- The at-risk threshold a published night's flags were set with (NULL: a night published before it was recorded).
select risk_threshold from ops.runs
where run_date = $run_date and status = 'published'
order by finished_at desc
limit 1
