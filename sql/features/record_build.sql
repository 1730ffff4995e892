-- One row of ops.feature_builds per `skipify features` run.
insert into ops.feature_builds values ($as_of, $rebuilt_from, $rows, now())
