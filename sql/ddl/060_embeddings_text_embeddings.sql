-- embeddings.text_embeddings: one vector per (content_hash, model_name). Texts are encoded once;
-- a track whose text changes gets a new hash and a new vector, the old one stays for old models.
CREATE TABLE IF NOT EXISTS embeddings.text_embeddings (
    content_hash  VARCHAR,     -- sha256 prefix of the text
    model_name    VARCHAR,     -- e.g. all-MiniLM-L6-v2
    text          VARCHAR,
    embedding     FLOAT[],     -- L2-normalised, 384 values for MiniLM
    created_at    TIMESTAMPTZ
);
