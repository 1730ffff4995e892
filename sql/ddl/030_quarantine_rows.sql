-- quarantine.rows: every record that was read but not loaded, and why. Grain: one record.
-- kind = 'invalid'  (fails the contract: missing key, bad type, out of range, unknown id)
--        'excluded' (valid but left out by policy: podcast episodes, incognito plays)
-- Personal fields (ip_addr, user agent, username) are removed before a record is stored here.
CREATE TABLE IF NOT EXISTS quarantine.rows (
    batch_id        VARCHAR,
    table_name      VARCHAR,     -- the raw table the record was meant for
    source_file     VARCHAR,
    record_number   BIGINT,      -- 1-based position of the record in the file (data rows, header excluded)
    kind            VARCHAR,
    reason          VARCHAR,
    record          VARCHAR,     -- the record as JSON, as read
    quarantined_at  TIMESTAMPTZ
);
