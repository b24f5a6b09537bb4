-- Chaining writes its batch with one INSERT, and builds the canonical text in one expression.
--
-- audit_chain_pending numbered and hashed each event in its loop and inserted it there: one
-- INSERT statement per event, each paying the executor's start and end again. Under the load
-- benchmark chaining was half of the database's statement time on the 待办 list (every view
-- is an audited event). Now the loop only numbers and hashes, collecting the chained rows, and
-- one INSERT ... SELECT FROM unnest() writes them in chain order: 66 -> 35 us per event
-- (batches of 5000 events on the seeded database; bench/README.md, finding 75).
--
-- audit_event_canonical built its text in a FOREACH loop over an array of the fields; it is
-- one expression now (7.8 -> 5.3 us per event). The canonical text is unchanged (see 0001:
-- each field as '<UTF-8 byte length>:<text>', '~' for NULL); app/audit/chain.py verifies it.

CREATE OR REPLACE FUNCTION audit_event_canonical(e audit_event) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    occurred text := to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    details text := e.details::text;
BEGIN
    RETURN 'oa-audit-v1'
        || coalesce(octet_length(e.id::text)::text || ':' || e.id, '~')
        || coalesce(octet_length(occurred)::text || ':' || occurred, '~')
        || coalesce(octet_length(e.actor_id::text)::text || ':' || e.actor_id, '~')
        || coalesce(octet_length(convert_to(e.actor_username, 'UTF8'))::text || ':'
                    || e.actor_username, '~')
        || coalesce(octet_length(convert_to(e.actor_name, 'UTF8'))::text || ':'
                    || e.actor_name, '~')
        || coalesce(octet_length(convert_to(e.ip, 'UTF8'))::text || ':' || e.ip, '~')
        || coalesce(octet_length(convert_to(e.user_agent, 'UTF8'))::text || ':'
                    || e.user_agent, '~')
        || coalesce(octet_length(convert_to(e.request_id, 'UTF8'))::text || ':'
                    || e.request_id, '~')
        || coalesce(octet_length(convert_to(e.action, 'UTF8'))::text || ':' || e.action, '~')
        || coalesce(octet_length(convert_to(e.object_type, 'UTF8'))::text || ':'
                    || e.object_type, '~')
        || coalesce(octet_length(convert_to(e.object_id, 'UTF8'))::text || ':'
                    || e.object_id, '~')
        || coalesce(octet_length(convert_to(e.outcome, 'UTF8'))::text || ':' || e.outcome, '~')
        || coalesce(octet_length(convert_to(details, 'UTF8'))::text || ':' || details, '~')
        || coalesce(octet_length(convert_to(e.prev_hash, 'UTF8'))::text || ':'
                    || e.prev_hash, '~');
END $$;

CREATE OR REPLACE FUNCTION audit_chain_pending(wait boolean DEFAULT true) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET enable_seqscan = off
    AS $$
DECLARE
    head audit_chain%ROWTYPE;
    pending audit_event_pending%ROWTYPE;
    event audit_event;
    chained audit_event[] := '{}';
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
        chained := chained || event;
        head.last_id := event.id;
        head.last_hash := event.hash;
    END LOOP;
    IF cardinality(chained) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_event SELECT * FROM unnest(chained);
    UPDATE audit_chain SET last_id = head.last_id, last_hash = head.last_hash WHERE singleton;
    RETURN cardinality(chained);
END $$;
