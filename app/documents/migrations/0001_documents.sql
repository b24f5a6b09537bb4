-- 公文: 发文 (the 稿纸), 收文, their files and versions, opinions, numbering counters,
-- distribution records and the archive. The workflow engine joins through
-- workflow_instance_id (no foreign key here: the engine's tables belong to another feature;
-- the integration migration adds the constraint).

-- Gapless counters: one row per (kind, code, year). A number is taken with
-- INSERT .. ON CONFLICT DO UPDATE .. RETURNING, which locks the row until the caller's
-- transaction ends: concurrent takers queue, and a rollback returns the number.
CREATE TABLE doc_counter (
    kind        text    NOT NULL CHECK (kind IN ('outgoing', 'serial', 'incoming', 'archive')),
    code        text    NOT NULL CHECK (length(code) BETWEEN 1 AND 60),
    year        integer NOT NULL CHECK (year BETWEEN 1949 AND 9999),
    last_value  integer NOT NULL CHECK (last_value >= 0),
    PRIMARY KEY (kind, code, year)
);

-- 发文字号 pattern per numbering department, e.g. '{代字}发〔{year}〕{n}号' (the default).
CREATE TABLE doc_number_rule (
    department_id   bigint PRIMARY KEY REFERENCES department (id),
    pattern         text   NOT NULL CHECK (length(pattern) BETWEEN 5 AND 60),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- 机构代码 of the 档号 (Latin, DA/T 22-2015); without a row, the pinyin initials of the name.
CREATE TABLE doc_archive_org_code (
    department_id   bigint PRIMARY KEY REFERENCES department (id),
    code            text   NOT NULL CHECK (code ~ '^[A-Z0-9]{1,10}$')
);

CREATE TABLE outgoing_document (
    id                      bigserial PRIMARY KEY,
    status                  text NOT NULL DEFAULT 'draft' CHECK (status IN
                                ('draft', 'in_flow', 'signed', 'numbered', 'sealed',
                                 'distributed', 'archived', 'cancelled')),
    workflow_instance_id    bigint,
    lock_version            integer NOT NULL DEFAULT 1,
    -- 发文号 (given at 编号, never at drafting)
    doc_number              text UNIQUE,
    number_code             text,
    number_year             integer,
    number_seq              integer,
    numbered_at             timestamptz,
    -- 流水号 (given when the draft is created)
    serial_no               text NOT NULL UNIQUE,
    -- 密级, 保密期限 (years; NULL = the longest for the level), 份号
    secrecy                 smallint NOT NULL DEFAULT 0 CHECK (secrecy BETWEEN 0 AND 3),
    secrecy_years           smallint CHECK (secrecy_years BETWEEN 1 AND 30),
    copy_no                 text NOT NULL DEFAULT '',
    urgency                 text NOT NULL DEFAULT '普通' CHECK (urgency IN ('普通', '加急', '特急')),
    title                   text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    attachment_titles       jsonb NOT NULL DEFAULT '[]',
    -- 主送 / 抄送 / 内部抄送, each as printed, with 份数 and the internal recipients
    main_to                 text NOT NULL DEFAULT '',
    main_to_copies          integer NOT NULL DEFAULT 0 CHECK (main_to_copies BETWEEN 0 AND 9999),
    main_to_dept_ids        bigint[] NOT NULL DEFAULT '{}',
    cc                      text NOT NULL DEFAULT '',
    cc_copies               integer NOT NULL DEFAULT 0 CHECK (cc_copies BETWEEN 0 AND 9999),
    cc_dept_ids             bigint[] NOT NULL DEFAULT '{}',
    internal_cc             text NOT NULL DEFAULT '',
    internal_cc_copies      integer NOT NULL DEFAULT 0 CHECK (internal_cc_copies BETWEEN 0 AND 9999),
    internal_cc_user_ids    bigint[] NOT NULL DEFAULT '{}',
    keywords                text NOT NULL DEFAULT '',       -- 主题词: internal search keywords
    disclosure              text NOT NULL DEFAULT 'not_public'
                                CHECK (disclosure IN ('public', 'not_public')),
    is_normative            boolean NOT NULL DEFAULT false, -- 自定规范性文件
    is_policy               boolean NOT NULL DEFAULT false, -- 政策法规类文件
    doc_type                text NOT NULL CHECK (doc_type IN ('决议', '决定', '命令', '公报',
                                '公告', '通告', '意见', '通知', '通报', '报告', '请示', '批复',
                                '议案', '函', '纪要')),
    direction               text NOT NULL DEFAULT 'down' CHECK (direction IN ('up', 'down', 'parallel')),
    is_major_decision       boolean NOT NULL DEFAULT false,
    -- 签发人 and 成文日期 (= the 签发 date)
    signer_id               bigint REFERENCES app_user (id),
    signer_name             text NOT NULL DEFAULT '',
    signed_at               timestamptz,
    issued_on               date,
    countersign_dept_ids    bigint[] NOT NULL DEFAULT '{}',   -- 会签部门 (opinions in doc_opinion)
    drafting_department_id  bigint NOT NULL REFERENCES department (id),
    drafter_id              bigint NOT NULL REFERENCES app_user (id),
    contact_phone           text NOT NULL DEFAULT '',
    typist                  text NOT NULL DEFAULT '',       -- 打字
    proofreader             text NOT NULL DEFAULT '',       -- 校对
    seal_supervisor_id      bigint REFERENCES app_user (id),-- 监印 (set by 用印)
    seal_supervisor_name    text NOT NULL DEFAULT '',
    seal_text               text NOT NULL DEFAULT '',       -- 落款用印
    sealed_at               timestamptz,
    send_method             text NOT NULL DEFAULT '电子公文交换' CHECK (send_method IN
                                ('电子公文交换', '机要交换', '机要通信', '邮寄', '传真', '其他')),
    joint_issuers           jsonb NOT NULL DEFAULT '[]',    -- 联合发文单位
    note                    text NOT NULL DEFAULT '',       -- 附注
    issuing_authority       text NOT NULL DEFAULT '',       -- 发文机关署名
    header_text             text NOT NULL DEFAULT '',       -- 发文机关标志 (empty: 署名 + 文件)
    printed_by              text NOT NULL DEFAULT '',       -- 印发机关
    printed_on              date,                           -- 印发日期
    distributed_at          timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((doc_number IS NULL) = (number_seq IS NULL)),
    CHECK (secrecy > 0 OR secrecy_years IS NULL),
    UNIQUE (number_code, number_year, number_seq)
);
CREATE INDEX outgoing_document_drafter ON outgoing_document (drafter_id);
CREATE INDEX outgoing_document_department ON outgoing_document (drafting_department_id);
CREATE INDEX outgoing_document_instance ON outgoing_document (workflow_instance_id);

-- An opinion written by a flow node (部门审核, 法规部门审核, 办公室核稿, 会签, 签发...):
-- who, when, from which department, what.
CREATE TABLE doc_opinion (
    id              bigserial PRIMARY KEY,
    document_id     bigint NOT NULL REFERENCES outgoing_document (id),
    kind            text NOT NULL CHECK (kind IN ('drafting', 'dept_review', 'legal_review',
                        'office_review', 'countersign', 'sign')),
    department_id   bigint REFERENCES department (id),
    user_id         bigint NOT NULL REFERENCES app_user (id),
    user_name       text NOT NULL,
    department_name text NOT NULL DEFAULT '',
    text            text NOT NULL DEFAULT '' CHECK (length(text) <= 2000),
    task_id         bigint,                                 -- the workflow task, when any
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX doc_opinion_document ON doc_opinion (document_id, created_at);

CREATE TABLE incoming_document (
    id                      bigserial PRIMARY KEY,
    status                  text NOT NULL DEFAULT 'registered' CHECK (status IN
                                ('pending', 'registered', 'in_flow', 'done', 'archived')),
    workflow_instance_id    bigint,
    receipt_no              text UNIQUE,                    -- 收文号 (NULL while 待签收)
    receipt_code            text,
    receipt_year            integer,
    receipt_seq             integer,
    source_unit             text NOT NULL CHECK (length(source_unit) BETWEEN 1 AND 100),
    source_number           text NOT NULL DEFAULT '',       -- 来文字号
    title                   text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    secrecy                 smallint NOT NULL DEFAULT 0 CHECK (secrecy BETWEEN 0 AND 3),
    urgency                 text NOT NULL DEFAULT '普通' CHECK (urgency IN ('普通', '加急', '特急')),
    copies                  integer NOT NULL DEFAULT 1 CHECK (copies BETWEEN 1 AND 9999),
    received_on             date NOT NULL,
    due_on                  date,                           -- 办理时限
    department_id           bigint NOT NULL REFERENCES department (id),
    registered_by_id        bigint REFERENCES app_user (id),
    registered_at           timestamptz,
    source_document_id      bigint REFERENCES outgoing_document (id),  -- internal exchange
    created_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((receipt_no IS NULL) = (status = 'pending')),
    CHECK (due_on IS NULL OR due_on >= received_on),
    UNIQUE (receipt_code, receipt_year, receipt_seq)
);
CREATE INDEX incoming_document_department ON incoming_document (department_id, received_on DESC);
CREATE INDEX incoming_document_source ON incoming_document (source_document_id);

-- 相关收文号: a 发文 answering or citing a 收文, seen from both sides.
CREATE TABLE doc_incoming_link (
    document_id     bigint NOT NULL REFERENCES outgoing_document (id),
    incoming_id     bigint NOT NULL REFERENCES incoming_document (id),
    PRIMARY KEY (document_id, incoming_id)
);
CREATE INDEX doc_incoming_link_incoming ON doc_incoming_link (incoming_id);

-- Files: the body (正文), attachments (附件) and the scanned original (原件扫描) of a 收文.
CREATE TABLE doc_file (
    id                  bigserial PRIMARY KEY,
    document_id         bigint REFERENCES outgoing_document (id),
    incoming_id         bigint REFERENCES incoming_document (id),
    role                text NOT NULL CHECK (role IN ('body', 'attachment', 'scan')),
    title               text NOT NULL DEFAULT '',
    sort_order          integer NOT NULL DEFAULT 0,
    current_version     integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((document_id IS NULL) <> (incoming_id IS NULL))
);
CREATE UNIQUE INDEX doc_file_one_body ON doc_file (document_id) WHERE role = 'body';
CREATE INDEX doc_file_incoming ON doc_file (incoming_id);

CREATE TABLE doc_file_version (
    id              bigserial PRIMARY KEY,
    file_id         bigint NOT NULL REFERENCES doc_file (id),
    version         integer NOT NULL CHECK (version >= 1),
    original_name   text NOT NULL CHECK (length(original_name) BETWEEN 1 AND 255),
    storage_name    text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('pdf', 'docx', 'ofd')),
    size            bigint NOT NULL CHECK (size > 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    text            text NOT NULL DEFAULT '',               -- extracted, for search
    uploaded_by_id  bigint NOT NULL REFERENCES app_user (id),
    uploaded_by_name text NOT NULL,
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (file_id, version)
);

-- 分发: the copies sent, and the 收文 each internal copy became.
CREATE TABLE doc_distribution (
    id              bigserial PRIMARY KEY,
    document_id     bigint NOT NULL REFERENCES outgoing_document (id),
    recipient_kind  text NOT NULL CHECK (recipient_kind IN ('main', 'cc', 'internal')),
    recipient_name  text NOT NULL,
    department_id   bigint REFERENCES department (id),
    user_id         bigint REFERENCES app_user (id),
    copies          integer NOT NULL DEFAULT 1 CHECK (copies >= 0),
    incoming_id     bigint REFERENCES incoming_document (id),
    sent_by_id      bigint REFERENCES app_user (id),
    sent_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX doc_distribution_document ON doc_distribution (document_id);

-- The archive (DA/T 22-2015): one item (件) per archived 公文, with its 档号.
CREATE TABLE doc_archive (
    id              bigserial PRIMARY KEY,
    document_id     bigint UNIQUE REFERENCES outgoing_document (id),
    incoming_id     bigint UNIQUE REFERENCES incoming_document (id),
    archive_no      text NOT NULL UNIQUE,                   -- 档号
    fonds_code      text NOT NULL,                          -- 全宗号
    category_code   text NOT NULL DEFAULT 'WS',             -- 门类代码 (文书)
    year            integer NOT NULL,
    retention       text NOT NULL CHECK (retention IN ('Y', 'D30', 'D10')),
    org_code        text NOT NULL,                          -- 机构(问题)代码
    item_no         integer NOT NULL CHECK (item_no >= 1),  -- 件号
    title           text NOT NULL,
    secrecy         smallint NOT NULL DEFAULT 0,
    department_id   bigint NOT NULL REFERENCES department (id),
    metadata        jsonb NOT NULL,
    archived_by_id  bigint REFERENCES app_user (id),
    archived_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((document_id IS NULL) <> (incoming_id IS NULL)),
    UNIQUE (fonds_code, year, retention, org_code, item_no)
);

CREATE TABLE doc_archive_file (
    id              bigserial PRIMARY KEY,
    archive_id      bigint NOT NULL REFERENCES doc_archive (id),
    role            text NOT NULL CHECK (role IN ('output', 'body', 'attachment', 'scan')),
    name            text NOT NULL,                          -- the name inside the package
    storage_name    text NOT NULL,
    size            bigint NOT NULL,
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX doc_archive_file_archive ON doc_archive_file (archive_id);

GRANT SELECT, INSERT, UPDATE ON doc_counter, doc_number_rule, doc_archive_org_code,
    outgoing_document, incoming_document, doc_file TO {{runtime_role}};
GRANT SELECT, INSERT ON doc_opinion, doc_file_version, doc_distribution, doc_archive,
    doc_archive_file TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON doc_incoming_link TO {{runtime_role}};
GRANT USAGE ON SEQUENCE outgoing_document_id_seq, incoming_document_id_seq, doc_opinion_id_seq,
    doc_file_id_seq, doc_file_version_id_seq, doc_distribution_id_seq, doc_archive_id_seq,
    doc_archive_file_id_seq TO {{runtime_role}};
