-- The parse tree of an analyst's query ($q) as JSON, to see every function it calls (skipify sql's check).
select json_serialize_sql($q)
