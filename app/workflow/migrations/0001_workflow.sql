-- The workflow engine: versioned flow definitions, running instances, their node runs,
-- tasks, history, delegations and users' common phrases.

CREATE TABLE wf_definition (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name            text NOT NULL,
    version         integer NOT NULL CHECK (version > 0),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    graph           jsonb NOT NULL,
    created_by      bigint REFERENCES app_user (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    published_by    bigint REFERENCES app_user (id),
    published_at    timestamptz,
    UNIQUE (code, version)
);
-- at most one draft per flow code
CREATE UNIQUE INDEX wf_definition_one_draft ON wf_definition (code) WHERE status = 'draft';

-- A published version is immutable: running instances depend on its exact graph.
CREATE FUNCTION wf_definition_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'published workflow definition % v% is immutable', OLD.code, OLD.version
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER wf_definition_immutable BEFORE UPDATE OR DELETE ON wf_definition
    FOR EACH ROW EXECUTE FUNCTION wf_definition_immutable();

CREATE TABLE wf_instance (
    id                  bigserial PRIMARY KEY,
    definition_id       bigint NOT NULL REFERENCES wf_definition (id),
    flow_code           text NOT NULL,
    business_type       text NOT NULL DEFAULT '',
    business_id         text NOT NULL DEFAULT '',
    title               text NOT NULL,
    urgency             smallint NOT NULL DEFAULT 0 CHECK (urgency IN (0, 1, 2)),
                        -- 0 普通, 1 加急, 2 特急
    form                jsonb NOT NULL DEFAULT '{}',
    initiator_id        bigint NOT NULL REFERENCES app_user (id),
    initiator_dept_id   bigint REFERENCES department (id),
    status              text NOT NULL DEFAULT 'running'
                        CHECK (status IN ('running', 'finished', 'terminated')),
    current_nodes       jsonb NOT NULL DEFAULT '[]',
    parent_instance_id  bigint REFERENCES wf_instance (id),
    parent_run_id       bigint,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wf_instance_initiator ON wf_instance (initiator_id, started_at DESC);
CREATE INDEX wf_instance_business ON wf_instance (business_type, business_id);
CREATE INDEX wf_instance_parent ON wf_instance (parent_instance_id);

-- One activation of a node: entered, then done or cancelled. Tasks belong to a run.
CREATE TABLE wf_node_run (
    id              bigserial PRIMARY KEY,
    instance_id     bigint NOT NULL REFERENCES wf_instance (id),
    node_key        text NOT NULL,
    node_type       text NOT NULL,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'done', 'cancelled', 'rejected')),
    prev_node       text,          -- the human node the flow came from (回退 to previous)
    source_task_id  bigint,        -- the task whose completion entered this node (撤回)
    handlers        jsonb NOT NULL DEFAULT '[]',   -- resolved handlers, in order
    arrivals        jsonb NOT NULL DEFAULT '{}',   -- joins: incoming node -> source task id
    entered_at      timestamptz NOT NULL DEFAULT now(),
    left_at         timestamptz
);
CREATE INDEX wf_node_run_instance ON wf_node_run (instance_id, node_key);
CREATE INDEX wf_node_run_source ON wf_node_run (source_task_id);

CREATE TABLE wf_task (
    id                    bigserial PRIMARY KEY,
    instance_id           bigint NOT NULL REFERENCES wf_instance (id),
    run_id                bigint NOT NULL REFERENCES wf_node_run (id),
    node_key              text NOT NULL,
    node_name             text NOT NULL,
    kind                  text NOT NULL DEFAULT 'approve'
                          CHECK (kind IN ('approve', 'draft', 'addsign', 'circulate')),
    assignee_id           bigint NOT NULL REFERENCES app_user (id),
    original_assignee_id  bigint REFERENCES app_user (id),  -- set when delegated (委托)
    delegation_id         bigint,
    status                text NOT NULL DEFAULT 'open'
                          CHECK (status IN ('open', 'waiting', 'done', 'cancelled',
                                            'transferred', 'recalled')),
    seq                   integer NOT NULL DEFAULT 0,
    source_task_id        bigint,
    parent_task_id        bigint REFERENCES wf_task (id),   -- 加签: the task it was added by
    add_position          text CHECK (add_position IN ('before', 'after')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    due_at                timestamptz,
    acted_at              timestamptz,
    action                text,
    comment               text NOT NULL DEFAULT '',
    urge_count            integer NOT NULL DEFAULT 0,
    last_urged_at         timestamptz,
    reminded_at           timestamptz,
    escalated_at          timestamptz
);
CREATE INDEX wf_task_assignee_open ON wf_task (assignee_id, status);
CREATE INDEX wf_task_instance ON wf_task (instance_id, run_id);
CREATE INDEX wf_task_source ON wf_task (source_task_id);
CREATE INDEX wf_task_due ON wf_task (due_at) WHERE status = 'open';

-- Full history: who did what, when, with which comment, from where. Append-only.
CREATE TABLE wf_history (
    id              bigserial PRIMARY KEY,
    instance_id     bigint NOT NULL REFERENCES wf_instance (id),
    task_id         bigint,
    node_key        text NOT NULL DEFAULT '',
    node_name       text NOT NULL DEFAULT '',
    actor_id        bigint REFERENCES app_user (id),
    action          text NOT NULL,
    comment         text NOT NULL DEFAULT '',
    details         jsonb NOT NULL DEFAULT '{}',
    ip              text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX wf_history_instance ON wf_history (instance_id, id);

CREATE TABLE wf_delegation (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES app_user (id),
    delegate_id     bigint NOT NULL REFERENCES app_user (id),
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    flow_code       text NOT NULL DEFAULT '',   -- '' = every flow
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CHECK (end_date >= start_date),
    CHECK (user_id <> delegate_id)
);
CREATE INDEX wf_delegation_user ON wf_delegation (user_id, start_date, end_date);

CREATE TABLE wf_phrase (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES app_user (id),
    text            text NOT NULL CHECK (length(text) BETWEEN 1 AND 200),
    sort_order      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, text)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON wf_definition TO {{runtime_role}};
GRANT SELECT, INSERT, UPDATE ON wf_instance, wf_node_run, wf_task, wf_delegation
    TO {{runtime_role}};
GRANT SELECT, INSERT ON wf_history TO {{runtime_role}};
GRANT SELECT, INSERT, DELETE ON wf_phrase TO {{runtime_role}};
GRANT USAGE ON SEQUENCE wf_definition_id_seq, wf_instance_id_seq, wf_node_run_id_seq,
    wf_task_id_seq, wf_history_id_seq, wf_delegation_id_seq, wf_phrase_id_seq
    TO {{runtime_role}};
