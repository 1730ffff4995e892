-- features.<table>: its rows from the first day this build makes again on (the new plays' days).
delete from {table} where day >= $from_day
