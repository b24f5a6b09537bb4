-- Chaining in one pass: audit_chain_pending numbers and hashes the events itself and writes
-- the chain head once per call, instead of a BEFORE INSERT trigger on audit_event doing it per
-- row (it locked and updated the head for every event and built the canonical text with 15
-- SQL-function calls: 0.3 ms of the 0.45 ms that chaining one event cost, pg_stat_statements
-- under the load benchmark, bench/README.md).
--
-- Without that trigger an INSERT into audit_event is no longer chained by the database, so
-- nobody but the owner may insert there: the runtime role loses INSERT on audit_event (it
-- never needed it; events enter through audit_event_pending). A row the owner slipped in
-- would break the chain, and `oa-ops audit verify` names it.
--
-- The canonical text is unchanged (see 0001); it is built in PL/pgSQL, whose expressions are
-- planned once per session, where the SQL functions were set up again for every row.

DROP TRIGGER audit_event_chain ON audit_event;
DROP FUNCTION audit_event_chain();
REVOKE INSERT ON audit_event FROM {{runtime_role}};

CREATE OR REPLACE FUNCTION audit_event_canonical(e audit_event) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    field text;
    canonical text := 'oa-audit-v1';
BEGIN
    FOREACH field IN ARRAY ARRAY[
        e.id::text,
        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.actor_id::text, e.actor_username, e.actor_name, e.ip, e.user_agent, e.request_id,
        e.action, e.object_type, e.object_id, e.outcome, e.details::text, e.prev_hash]
    LOOP
        canonical := canonical || CASE WHEN field IS NULL THEN '~'
            ELSE octet_length(convert_to(field, 'UTF8'))::text || ':' || field END;
    END LOOP;
    RETURN canonical;
END $$;

-- audit_event_pending is a queue: every event is inserted, then deleted when chained, so the
-- table is mostly dead rows between two vacuums (98 000 of them, 11 MB, after a minute of the
-- load benchmark). The function's plans are made once per session, when the table looked
-- empty, as sequential scans over all of that (0.3 ms for the EXISTS alone); without
-- sequential scans it walks the primary key, whose dead entries are skipped once marked.
-- And the queue is vacuumed as soon as a thousand rows died, not at a fifth of its size.
ALTER TABLE audit_event_pending SET (autovacuum_vacuum_scale_factor = 0,
                                     autovacuum_vacuum_threshold = 1000,
                                     autovacuum_vacuum_cost_delay = 0);

CREATE OR REPLACE FUNCTION audit_chain_pending(wait boolean DEFAULT true) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET enable_seqscan = off
    AS $$
DECLARE
    head audit_chain%ROWTYPE;
    pending audit_event_pending%ROWTYPE;
    event audit_event;
    moved integer := 0;
BEGIN
    -- nothing to do: return before taking any lock (the periodic pass is mostly this)
    IF NOT EXISTS (SELECT 1 FROM audit_event_pending) THEN
        RETURN 0;
    END IF;
    IF wait THEN
        SELECT * INTO head FROM audit_chain WHERE singleton FOR UPDATE;
    ELSE
        SELECT * INTO head FROM audit_chain WHERE singleton FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM audit_chain) THEN
            RETURN 0;  -- another transaction is chaining (wait = false)
        END IF;
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
    FOR pending IN
        WITH taken AS (
            DELETE FROM audit_event_pending
             WHERE id IN (SELECT id FROM audit_event_pending ORDER BY id LIMIT 1000)
            RETURNING *)
        SELECT * FROM taken ORDER BY id
    LOOP
        event := ROW(head.last_id + 1, pending.occurred_at, pending.actor_id,
                     pending.actor_username, pending.actor_name, pending.ip, pending.user_agent,
                     pending.request_id, pending.action, pending.object_type, pending.object_id,
                     pending.outcome, pending.details, head.last_hash, '');
        event.hash := encode(sha256(convert_to(audit_event_canonical(event), 'UTF8')), 'hex');
        INSERT INTO audit_event VALUES (event.*);
        head.last_id := event.id;
        head.last_hash := event.hash;
        moved := moved + 1;
    END LOOP;
    IF moved > 0 THEN
        UPDATE audit_chain SET last_id = head.last_id, last_hash = head.last_hash
         WHERE singleton;
    END IF;
    RETURN moved;
END $$;
