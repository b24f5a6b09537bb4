-- A user's signed-in sessions newest first, ended or not: the portal's "我的信息" shows the
-- sign-in before this one on every desktop view. user_session_live covers only live sessions,
-- so that query read the whole table (20 000 sequential scans, 15 million rows in one load
-- benchmark run, bench/README.md finding 23), and the table keeps every session ever made.
CREATE INDEX user_session_signed_in ON user_session (user_id, created_at DESC, id DESC)
    WHERE stage = 'active';
