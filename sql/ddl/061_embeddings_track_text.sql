-- embeddings.track_text: which text (and so which vector) describes each track now. Grain: track_id.
CREATE TABLE IF NOT EXISTS embeddings.track_text (
    track_id      VARCHAR,
    content_hash  VARCHAR,
    updated_at    TIMESTAMPTZ
);
