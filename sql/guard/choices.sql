-- Every threshold chosen, newest first.
select chosen_at, chosen_by, threshold, goal, nights, note from ops.guard_thresholds order by chosen_at desc
