-- The threshold product managers chose last (none: the config's, else the served model's validation threshold).
select threshold, chosen_by, chosen_at, goal from ops.guard_thresholds order by chosen_at desc limit 1
