-- features.<table>: a table rebuilt for all of history, or one no definition makes any more.
drop table if exists {table}
