-- 工作门户: each user's own choice and order of portal widgets. No row: the role's default.

CREATE TABLE portal_layout (
    user_id     bigint PRIMARY KEY REFERENCES app_user (id) ON DELETE CASCADE,
    widgets     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(widgets) <= 50),
                -- widget keys in display order; a key missing here is hidden
    updated_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON portal_layout TO {{runtime_role}};
