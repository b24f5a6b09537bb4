-- 身份鉴别与授权: credentials, sessions, captcha, TOTP, roles and 三员分立.

-- One password credential per user (Argon2id hash in PHC string form).
CREATE TABLE credential (
    user_id         bigint PRIMARY KEY REFERENCES app_user (id) ON DELETE CASCADE,
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    changed_at      timestamptz NOT NULL DEFAULT now(),
    must_change     boolean NOT NULL DEFAULT true,
    failed_count    integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
    locked_until    timestamptz,
    last_login_at   timestamptz,
    last_login_ip   text NOT NULL DEFAULT ''
);

-- Earlier hashes, for "not among the last N passwords".
CREATE TABLE password_history (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_history_user ON password_history (user_id, created_at DESC);

-- Server-side sessions. Only a SHA-256 of the random session id is stored, so a copy of this
-- table cannot be replayed as cookies. stage 'mfa': the password was right, the TOTP step is
-- still to come; such a row never resolves to a signed-in principal.
CREATE TABLE user_session (
    id              bigserial PRIMARY KEY,
    token_hash      text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id         bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    stage           text NOT NULL DEFAULT 'active' CHECK (stage IN ('mfa', 'active')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    ended_at        timestamptz,
    ended_reason    text CHECK (ended_reason IN ('logout', 'idle', 'expired', 'revoked',
                                                 'limit', 'password', 'disabled'))
);
CREATE INDEX user_session_live ON user_session (user_id, created_at) WHERE ended_at IS NULL;

-- Failed logins per account name and per client address: the captcha is asked from the first
-- failure on for either, so switching names does not skip it. Unknown names are counted too,
-- so they lock the same way as real accounts and reveal nothing.
CREATE TABLE login_throttle (
    kind            text NOT NULL CHECK (kind IN ('user', 'ip')),
    key             text NOT NULL,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

-- Image captcha challenges: the browser holds a random token, the answer stays here (hashed).
CREATE TABLE captcha_challenge (
    id              bigserial PRIMARY KEY,
    token_hash      text NOT NULL UNIQUE,
    answer_hash     text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);

-- TOTP (RFC 6238). enrolled_at NULL: a secret shown but not yet confirmed with a code.
-- last_used_step makes each code single-use.
CREATE TABLE totp (
    user_id         bigint PRIMARY KEY REFERENCES app_user (id) ON DELETE CASCADE,
    secret          text NOT NULL,
    enrolled_at     timestamptz,
    last_used_step  bigint NOT NULL DEFAULT 0
);

CREATE TABLE recovery_code (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    code_hash       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    used_at         timestamptz
);
CREATE INDEX recovery_code_user ON recovery_code (user_id) WHERE used_at IS NULL;

-- Roles bundle permissions, each with a data scope. admin_kind marks the three built-in
-- administrator roles of 三员分立.
CREATE TABLE role (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 40),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    built_in        boolean NOT NULL DEFAULT false,
    admin_kind      text UNIQUE CHECK (admin_kind IN ('sysadmin', 'secadmin', 'auditor')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (admin_kind IS NULL OR built_in)
);

CREATE TABLE role_permission (
    role_id         bigint NOT NULL REFERENCES role (id) ON DELETE CASCADE,
    permission      text NOT NULL CHECK (permission ~ '^[a-z][a-z0-9_.]{1,80}$'),
    scope           text NOT NULL CHECK (scope IN ('self', 'department', 'subtree', 'all')),
    PRIMARY KEY (role_id, permission)
);

-- Every permission code ever declared, so a newly declared business permission is offered to
-- the 普通用户 role once, and a later removal by the 安全管理员 sticks.
CREATE TABLE permission_catalog (
    code            text PRIMARY KEY,
    first_seen_at   timestamptz NOT NULL DEFAULT now()
);

-- admin_kind is copied from the role by a trigger (never trusted from the writer), and the
-- partial unique index makes the database itself refuse a second administrator role on one
-- account: no account can combine 系统管理员, 安全管理员 and 安全审计员.
CREATE TABLE user_role (
    user_id         bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    role_id         bigint NOT NULL REFERENCES role (id) ON DELETE CASCADE,
    admin_kind      text,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    granted_by      bigint REFERENCES app_user (id),
    PRIMARY KEY (user_id, role_id)
);
CREATE UNIQUE INDEX user_role_one_admin_role ON user_role (user_id) WHERE admin_kind IS NOT NULL;
CREATE INDEX user_role_role ON user_role (role_id);

CREATE FUNCTION user_role_copy_admin_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT admin_kind INTO NEW.admin_kind FROM role WHERE id = NEW.role_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER user_role_admin_kind BEFORE INSERT OR UPDATE ON user_role
    FOR EACH ROW EXECUTE FUNCTION user_role_copy_admin_kind();

GRANT SELECT, INSERT, UPDATE ON credential TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON password_history TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE ON user_session TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON captcha_challenge TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON totp TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_code TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON role TO {{runtime_role}};
GRANT UPDATE (name, description, updated_at) ON role TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON role_permission TO {{runtime_role}};
GRANT SELECT, INSERT ON permission_catalog TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON user_role TO {{runtime_role}};
GRANT USAGE ON SEQUENCE password_history_id_seq, user_session_id_seq,
    captcha_challenge_id_seq, recovery_code_id_seq, role_id_seq TO {{runtime_role}};
