-- The latest published night of each score table (what the app and the API read by default).
CREATE OR REPLACE VIEW scores.latest_dislike_scores AS
SELECT * FROM scores.dislike_scores WHERE run_date = (SELECT max(run_date) FROM scores.dislike_scores);
CREATE OR REPLACE VIEW scores.latest_track_dislike_profile AS
SELECT * FROM scores.track_dislike_profile WHERE run_date = (SELECT max(run_date) FROM scores.track_dislike_profile);
CREATE OR REPLACE VIEW scores.latest_user_risk AS
SELECT * FROM scores.user_risk WHERE run_date = (SELECT max(run_date) FROM scores.user_risk);
