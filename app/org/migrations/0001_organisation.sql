-- 组织机构: departments (a tree), positions, users and their departments.

CREATE TABLE department (
    id              bigserial PRIMARY KEY,
    parent_id       bigint REFERENCES department (id),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    short_name      text NOT NULL DEFAULT '',
    doc_code        text NOT NULL DEFAULT '',       -- 机关代字, e.g. X公 for X公发〔2026〕7号
    sort_order      integer NOT NULL DEFAULT 0,
    leader_id       bigint,                          -- FK added below (app_user)
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE UNIQUE INDEX department_sibling_name ON department (coalesce(parent_id, 0), name);
CREATE INDEX department_parent ON department (parent_id);

CREATE TABLE position (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 40),
    rank        integer NOT NULL DEFAULT 100,        -- smaller is more senior, for sorting
    is_leader   boolean NOT NULL DEFAULT false
);

CREATE TABLE app_user (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL CHECK (username ~ '^[a-z0-9._-]{2,32}$'),
    employee_no     text NOT NULL CHECK (length(employee_no) BETWEEN 1 AND 20),   -- 工号
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    name_pinyin     text NOT NULL DEFAULT '',        -- full pinyin, lower case, no spaces
    name_initials   text NOT NULL DEFAULT '',        -- pinyin initials, e.g. zsf for 张三丰
    department_id   bigint NOT NULL REFERENCES department (id),   -- primary department
    position_id     bigint REFERENCES position (id),
    phone           text NOT NULL DEFAULT '',
    office_phone    text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    clearance       smallint NOT NULL DEFAULT 0 CHECK (clearance BETWEEN 0 AND 3),
                    -- 密级: 0 非密, 1 秘密, 2 机密, 3 绝密
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    sort_order      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX app_user_username ON app_user (lower(username));
CREATE UNIQUE INDEX app_user_employee_no ON app_user (employee_no);
CREATE INDEX app_user_department ON app_user (department_id);
CREATE INDEX app_user_initials ON app_user (name_initials text_pattern_ops);
CREATE INDEX app_user_pinyin ON app_user (name_pinyin text_pattern_ops);

-- Further departments a user belongs to (兼职), and deputy leaders of a department.
CREATE TABLE user_department (
    user_id         bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    department_id   bigint NOT NULL REFERENCES department (id),
    PRIMARY KEY (user_id, department_id)
);
CREATE TABLE department_deputy (
    department_id   bigint NOT NULL REFERENCES department (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES app_user (id),
    PRIMARY KEY (department_id, user_id)
);

ALTER TABLE department ADD CONSTRAINT department_leader_fk
    FOREIGN KEY (leader_id) REFERENCES app_user (id);

GRANT SELECT, INSERT, UPDATE ON department, position, app_user TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON user_department, department_deputy TO {{runtime_role}};
GRANT USAGE ON SEQUENCE department_id_seq, position_id_seq, app_user_id_seq TO {{runtime_role}};
