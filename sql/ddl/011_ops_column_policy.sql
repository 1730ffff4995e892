-- ops.column_policy: what each raw event column may be used for. Grain: (table_name, column_name).
-- role = 'key'      identifies the event
--        'context'  known when the play starts: may be a feature of that very event
--        'outcome'  describes how the play ended (it is, or reveals, the label): used for the label and
--                   for history aggregates of *later* events, never as a feature of the same event.
CREATE TABLE IF NOT EXISTS ops.column_policy (
    table_name   VARCHAR,
    column_name  VARCHAR,
    role         VARCHAR,
    note         VARCHAR
);
DELETE FROM ops.column_policy;
INSERT INTO ops.column_policy VALUES
    ('raw.events', 'user_id', 'key', NULL),
    ('raw.events', 'track_id', 'key', NULL),
    ('raw.events', 'ts', 'key', 'start of the play, UTC'),
    ('raw.events', 'ms_played', 'outcome', 'defines the early-skip label'),
    ('raw.events', 'skipped', 'outcome', 'the skip itself'),
    ('raw.events', 'feedback', 'outcome', 'explicit like/dislike given during or after the play'),
    ('raw.events', 'reason_end', 'outcome', 'why the play ended: fwdbtn/trackdone reveal the label'),
    ('raw.events', 'reason_start', 'context', 'why this play started; it reveals the PREVIOUS play''s outcome, which is history'),
    ('raw.events', 'session_id', 'context', NULL),
    ('raw.events', 'session_position', 'context', NULL),
    ('raw.events', 'context_type', 'context', NULL),
    ('raw.events', 'platform', 'context', NULL),
    ('raw.events', 'shuffle', 'context', NULL),
    ('raw.mssd_session_logs', 'skip_1', 'outcome', 'MSSD: skipped very briefly'),
    ('raw.mssd_session_logs', 'skip_2', 'outcome', 'MSSD: the label (skipped briefly)'),
    ('raw.mssd_session_logs', 'skip_3', 'outcome', 'MSSD: skipped before the end'),
    ('raw.mssd_session_logs', 'not_skipped', 'outcome', 'MSSD: played to the end'),
    ('raw.mssd_session_logs', 'hist_user_behavior_n_seekfwd', 'outcome', 'seeks during the play'),
    ('raw.mssd_session_logs', 'hist_user_behavior_n_seekback', 'outcome', 'seeks during the play'),
    ('raw.mssd_session_logs', 'hist_user_behavior_reason_end', 'outcome', 'reveals the label'),
    ('raw.mssd_session_logs', 'hist_user_behavior_reason_start', 'context', 'reveals the previous play''s outcome');
