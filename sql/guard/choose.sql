-- A product manager's choice of the at-risk threshold: in force from now on.
insert into ops.guard_thresholds (chosen_at, chosen_by, threshold, goal, nights, note)
values (now(), $chosen_by, $threshold, $goal, $nights, $note)
