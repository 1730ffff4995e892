-- Earliest play before the cut-off ($cutoff) whose feature row must be (re)built; NULL if none.
-- A row depends only on plays before it, so only plays ingested after the last build, or plays at
-- or after the last build's cut-off, start a rebuild. Without any build: every play.
with last_build as (
    select as_of, built_at from ops.feature_builds order by built_at desc limit 1
)

select min(e.ts)
from raw.events as e
left join last_build as b on true
where e.ts < $cutoff
  and (
      b.built_at is null
      or e.ingested_at > b.built_at
      or e.ts >= cast(b.as_of as timestamptz)
  )
