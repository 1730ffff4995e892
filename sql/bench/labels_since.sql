-- The keys of the feature rows from day $since on (bench/history_counts.py joins both definitions' values on them).
select play_id, user_id, track_id, ts from features.labels where day >= $since
