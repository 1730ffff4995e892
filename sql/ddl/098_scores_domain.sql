-- The night's scores per domain (docs/domains.md): scores.dislike_scores.domain is the scored item's domain, and
-- rank_in_user ranks a listener's candidates within it (a queue is of one medium); scores.user_risk has one row
-- per listener and domain. Every night published before this migration scored music.
ALTER TABLE scores.dislike_scores ADD COLUMN domain VARCHAR;
UPDATE scores.dislike_scores SET domain = 'music' WHERE domain IS NULL;
ALTER TABLE scores.user_risk ADD COLUMN domain VARCHAR;
UPDATE scores.user_risk SET domain = 'music' WHERE domain IS NULL;
CREATE OR REPLACE VIEW scores.latest_dislike_scores AS
SELECT * FROM scores.dislike_scores WHERE run_date = (SELECT max(run_date) FROM scores.dislike_scores);
CREATE OR REPLACE VIEW scores.latest_user_risk AS
SELECT * FROM scores.user_risk WHERE run_date = (SELECT max(run_date) FROM scores.user_risk);
