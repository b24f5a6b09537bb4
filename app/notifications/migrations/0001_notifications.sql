-- 系统通知: messages for one user each (today: monitoring alerts for the administrators).
-- An alert's notification is found again by its Alertmanager fingerprint while it is open;
-- once resolved, the next firing of the same alert opens a new row, so history is kept.

CREATE TABLE notification (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body         text NOT NULL DEFAULT '' CHECK (char_length(body) <= 4000),
    severity     text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
    link         text NOT NULL DEFAULT '' CHECK (char_length(link) <= 500),
    source       text NOT NULL DEFAULT 'system' CHECK (char_length(source) <= 50),
    fingerprint  text CHECK (char_length(fingerprint) <= 64),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    resolved_at  timestamptz
);

CREATE UNIQUE INDEX notification_open_alert ON notification (user_id, fingerprint)
    WHERE fingerprint IS NOT NULL AND resolved_at IS NULL;
CREATE INDEX notification_user_recent ON notification (user_id, created_at DESC, id DESC);
CREATE INDEX notification_user_unread ON notification (user_id) WHERE read_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON notification TO {{runtime_role}};
GRANT USAGE ON SEQUENCE notification_id_seq TO {{runtime_role}};
