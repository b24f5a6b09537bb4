-- 安全审计: the append-only, hash-chained audit trail.
--
-- How an event gets into the chain (see app/audit/service.py for the why):
--   1. record() inserts the event into audit_event_pending, inside the caller's transaction.
--   2. At COMMIT, a deferred constraint trigger moves each pending row into audit_event.
--   3. A BEFORE INSERT trigger on audit_event locks the chain head (audit_chain), gives the row
--      the next id (1, 2, 3... no gaps), links it to the previous row's hash and computes its
--      own hash. Whatever id/prev_hash/hash an INSERT supplies is overwritten.
-- So the chain lock is held only from the pre-commit step to the end of the commit, not for
-- the rest of the caller's unit of work, and the chain order is the commit order.
--
-- hash = SHA-256 (hex) of audit_event_canonical(row): the text 'oa-audit-v1' followed by each
-- field as '<UTF-8 byte length>:<text>' ('~' for NULL), in this order:
--   id, occurred_at (UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'), actor_id, actor_username, actor_name,
--   ip, user_agent, request_id, action, object_type, object_id, outcome,
--   details (PostgreSQL's own jsonb text output, which is deterministic for a stored value),
--   prev_hash.
-- The verifier (app/audit/chain.py) rebuilds exactly this from the stored row.

CREATE TABLE audit_event (
    id              bigint PRIMARY KEY,                 -- chain position, assigned by the trigger
    occurred_at     timestamptz NOT NULL,
    actor_id        bigint,                             -- no FK: the trail outlives users
    actor_username  text NOT NULL DEFAULT '',           -- snapshots at the time of the event
    actor_name      text NOT NULL DEFAULT '',
    ip              text NOT NULL DEFAULT '',           -- text, not inet: stored as given
    user_agent      text NOT NULL DEFAULT '',
    request_id      text NOT NULL DEFAULT '',
    action          text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    object_type     text NOT NULL DEFAULT '',
    object_id       text,
    outcome         text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details         jsonb NOT NULL DEFAULT '{}',
    prev_hash       text NOT NULL,
    hash            text NOT NULL
);
-- The auditor's searches: newest first, narrowed by time, actor, action, object or outcome.
CREATE INDEX audit_event_occurred ON audit_event (occurred_at);
CREATE INDEX audit_event_actor ON audit_event (actor_id, id);
CREATE INDEX audit_event_actor_username ON audit_event (actor_username, id);
CREATE INDEX audit_event_actor_name ON audit_event (actor_name, id);
CREATE INDEX audit_event_action ON audit_event (action text_pattern_ops);
CREATE INDEX audit_event_object ON audit_event (object_type, object_id, id);
CREATE INDEX audit_event_not_success ON audit_event (occurred_at, outcome)
    WHERE outcome <> 'success';

-- The chain head: one row. anchor_* is where the chain starts: (0, genesis), or after an
-- owner's archive-and-purge of old rows the id and hash of the last purged row.
CREATE TABLE audit_chain (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id     bigint NOT NULL,
    last_hash   text NOT NULL,
    anchor_id   bigint NOT NULL,
    anchor_hash text NOT NULL
);
INSERT INTO audit_chain VALUES (true, 0, repeat('0', 64), 0, repeat('0', 64));

-- Events written but not yet committed. UNLOGGED: a row lives only until its own
-- transaction's commit, where it is moved into audit_event (which is logged).
CREATE UNLOGGED TABLE audit_event_pending (
    id              bigserial PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id        bigint,
    actor_username  text NOT NULL DEFAULT '',
    actor_name      text NOT NULL DEFAULT '',
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    request_id      text NOT NULL DEFAULT '',
    action          text NOT NULL,
    object_type     text NOT NULL DEFAULT '',
    object_id       text,
    outcome         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'
);

CREATE FUNCTION audit_field(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN value IS NULL THEN '~'
                      ELSE octet_length(convert_to(value, 'UTF8'))::text || ':' || value END $$;

CREATE FUNCTION audit_event_canonical(e audit_event) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT 'oa-audit-v1'
        || audit_field(e.id::text)
        || audit_field(to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_field(e.actor_id::text)
        || audit_field(e.actor_username)
        || audit_field(e.actor_name)
        || audit_field(e.ip)
        || audit_field(e.user_agent)
        || audit_field(e.request_id)
        || audit_field(e.action)
        || audit_field(e.object_type)
        || audit_field(e.object_id)
        || audit_field(e.outcome)
        || audit_field(e.details::text)
        || audit_field(e.prev_hash) $$;

CREATE FUNCTION audit_event_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
DECLARE
    head audit_chain%ROWTYPE;
BEGIN
    -- The row lock on the head serialises appenders. Under READ COMMITTED the waiter then
    -- sees the committed head; under REPEATABLE READ it fails instead of forking the chain.
    SELECT * INTO head FROM audit_chain WHERE singleton FOR UPDATE;
    IF NOT FOUND THEN
        -- Only after an owner emptied audit_chain (the tests do): rebuild it from the table.
        INSERT INTO audit_chain
        SELECT true, coalesce(max(id), 0),
               coalesce((SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1), repeat('0', 64)),
               coalesce(min(id) - 1, 0),
               coalesce((SELECT prev_hash FROM audit_event ORDER BY id LIMIT 1), repeat('0', 64))
          FROM audit_event
        ON CONFLICT DO NOTHING;
        SELECT * INTO head FROM audit_chain WHERE singleton FOR UPDATE;
    END IF;
    NEW.id := head.last_id + 1;
    NEW.prev_hash := head.last_hash;
    NEW.hash := encode(sha256(convert_to(audit_event_canonical(NEW), 'UTF8')), 'hex');
    UPDATE audit_chain SET last_id = NEW.id, last_hash = NEW.hash WHERE singleton;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_chain();

CREATE FUNCTION audit_event_flush() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
BEGIN
    INSERT INTO audit_event (id, occurred_at, actor_id, actor_username, actor_name, ip,
                             user_agent, request_id, action, object_type, object_id, outcome,
                             details, prev_hash, hash)
    VALUES (0, NEW.occurred_at, NEW.actor_id, NEW.actor_username, NEW.actor_name, NEW.ip,
            NEW.user_agent, NEW.request_id, NEW.action, NEW.object_type, NEW.object_id,
            NEW.outcome, NEW.details, '', '');
    DELETE FROM audit_event_pending WHERE id = NEW.id;
    RETURN NULL;
END $$;

-- Fires at COMMIT (in insertion order), inside the committing transaction.
CREATE CONSTRAINT TRIGGER audit_event_flush AFTER INSERT ON audit_event_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_event_flush();

CREATE FUNCTION audit_event_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '审计日志只允许追加，不允许修改、删除或清空（%）', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();

REVOKE ALL ON audit_event, audit_chain, audit_event_pending FROM PUBLIC;
GRANT SELECT, INSERT ON audit_event TO {{runtime_role}};
GRANT SELECT ON audit_chain TO {{runtime_role}};
GRANT INSERT ON audit_event_pending TO {{runtime_role}};
GRANT USAGE ON SEQUENCE audit_event_pending_id_seq TO {{runtime_role}};
REVOKE ALL ON FUNCTION audit_event_chain(), audit_event_flush() FROM PUBLIC;
