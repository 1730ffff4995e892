-- The first play of a build that rebuilds everything (the temp table fx_plays): its day is where it starts.
select min(ts) from fx_plays
