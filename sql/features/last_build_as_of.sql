-- The cut-off of the latest feature build: the state holds every day before it.
select max_by(as_of, built_at) from ops.feature_builds
