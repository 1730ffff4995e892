-- The guard (docs/guard.md): what a threshold on p_dislike would have done, and the threshold product managers chose.
--
-- scores.guard_backtest: per published night, once the plays of its day are in, for each threshold of a grid
-- (0.01 .. 0.99): of the night's scored pairs that were then played that day, the plays (one row per play), the
-- dislikes among them (the label), the dislikes the guard would have caught (p_dislike >= threshold) and the
-- good plays (not dislikes) it would have withheld. Grain: (run_date, segment, segment_value, threshold).
-- segment: all (segment_value 'all') | listener | track (new: first play within guard_new_days before the night,
-- or none, else known) | platform (of the play) | domain. Written by the night that ingests the day (it restates
-- the last guard_backtest_nights published nights) and by `skipify backfill --backtest`.
CREATE TABLE IF NOT EXISTS scores.guard_backtest (
    run_date           DATE,
    segment            VARCHAR,
    segment_value      VARCHAR,
    threshold          DOUBLE,
    plays              BIGINT,
    dislikes           BIGINT,
    caught             BIGINT,
    withheld_good      BIGINT,
    share_caught       DOUBLE,    -- caught / dislikes (NULL without a dislike)
    caught_per_1000    DOUBLE,    -- caught per 1,000 plays
    withheld_per_1000  DOUBLE,    -- good plays withheld per 1,000 plays
    model_version      VARCHAR,
    backtested_at      TIMESTAMPTZ
);
-- ops.guard_thresholds: the at-risk thresholds product managers chose (the app's Guard page, `skipify guard
-- --save`), newest in force from then on: the night's at_risk flags, the API's at_risk. goal: what it was chosen
-- for (e.g. 'catch 50% of dislikes'), nights: how many backtested nights it was read from.
CREATE TABLE IF NOT EXISTS ops.guard_thresholds (
    chosen_at   TIMESTAMPTZ,
    chosen_by   VARCHAR,
    threshold   DOUBLE,
    goal        VARCHAR,
    nights      INTEGER,
    note        VARCHAR
);
-- ops.runs.risk_threshold: the threshold a night's at_risk flags were set with (NULL: a failed attempt, or a night
-- published before this column).
ALTER TABLE ops.runs ADD COLUMN risk_threshold DOUBLE;
