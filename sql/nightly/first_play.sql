-- The warehouse's first play: a night before its day has nothing to score.
select min(ts) from raw.events
