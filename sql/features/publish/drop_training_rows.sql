-- features.training_rows: the view over every features table, dropped before one of them is (made again at
-- the end of the build's transaction: training_rows.sql).
drop view if exists features.training_rows
