-- The chain lock off the committers' critical path.
--
-- Before: at COMMIT every audited transaction locked the chain head (FOR UPDATE) and kept it
-- until its commit had reached the disk, so all audited commits ran one after another, each
-- waiting for the previous one's WAL flush (the load benchmark saw as many backends waiting
-- on that lock as working, bench/README.md).
--
-- Now an event is still written in the caller's transaction (audit_event_pending, commits or
-- rolls back with the work), and at COMMIT the transaction TRIES to take the head: if it is
-- free, it moves every committed pending event and its own into the chain (batched); if
-- another transaction holds it, it does not wait: its events stay pending, committed and
-- durable, for the next committer or for the application's periodic pass (every second,
-- app/audit/service.py chain_pending) to chain. Pending rows must therefore survive a crash:
-- the table is logged now. The runtime role still may only INSERT into it (no UPDATE,
-- DELETE or TRUNCATE), so a committed event cannot be withdrawn before it is chained.
-- Chain order is the order of chaining, which within one chainer is the order of writing.

ALTER TABLE audit_event_pending SET LOGGED;

DROP TRIGGER audit_event_flush ON audit_event_pending;
DROP FUNCTION audit_event_flush();

-- Moves up to 1000 pending events (oldest first) into audit_event, whose BEFORE INSERT
-- trigger numbers and hashes each onto the chain. wait = false: return 0 at once when
-- another transaction holds the head. Returns the number of events chained.
CREATE FUNCTION audit_chain_pending(wait boolean DEFAULT true) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
DECLARE
    moved integer;
BEGIN
    -- nothing to do: return before taking any lock (the periodic pass is mostly this)
    IF NOT EXISTS (SELECT 1 FROM audit_event_pending) THEN
        RETURN 0;
    END IF;
    IF wait THEN
        PERFORM 1 FROM audit_chain WHERE singleton FOR UPDATE;
    ELSE
        PERFORM 1 FROM audit_chain WHERE singleton FOR UPDATE SKIP LOCKED;
        -- (an owner may have emptied audit_chain: then the chain trigger rebuilds it)
        IF NOT FOUND AND EXISTS (SELECT 1 FROM audit_chain) THEN
            RETURN 0;
        END IF;
    END IF;
    WITH taken AS (
        DELETE FROM audit_event_pending
         WHERE id IN (SELECT id FROM audit_event_pending ORDER BY id LIMIT 1000)
        RETURNING *)
    INSERT INTO audit_event (id, occurred_at, actor_id, actor_username, actor_name, ip,
                             user_agent, request_id, action, object_type, object_id, outcome,
                             details, prev_hash, hash)
    SELECT 0, occurred_at, actor_id, actor_username, actor_name, ip, user_agent, request_id,
           action, object_type, object_id, outcome, details, '', ''
      FROM taken ORDER BY id;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END $$;

CREATE FUNCTION audit_event_chain_at_commit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
BEGIN
    PERFORM audit_chain_pending(false);
    RETURN NULL;
END $$;

-- Fires at COMMIT, inside the committing transaction (its own events are visible to it).
CREATE CONSTRAINT TRIGGER audit_event_chain_at_commit AFTER INSERT ON audit_event_pending
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_event_chain_at_commit();

REVOKE ALL ON FUNCTION audit_chain_pending(boolean), audit_event_chain_at_commit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_chain_pending(boolean) TO {{runtime_role}};
GRANT SELECT ON audit_event_pending TO {{runtime_role}};
