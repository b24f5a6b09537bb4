-- Chaining moves off the commit entirely: the web workers' periodic pass (every second,
-- app/audit/service.py schedule_chaining) and the auditors' reads chain what is pending.
--
-- At COMMIT every audited transaction ran audit_chain_pending(false): under load it chained
-- one or two events per call, and each call paid the whole fixed cost again (the emptiness
-- check, the head's row lock, the DELETE of the batch, the head's UPDATE, each with its WAL
-- record). The load benchmark measured it as 45 % of the database's statement time on the
-- 待办 list, 0.52 ms per commit; chained in batches, an event costs 0.08 ms (bench/README.md,
-- finding 30).
--
-- Nothing about what is kept changes: an event is written in the caller's transaction (it
-- commits or rolls back with the work), the runtime role may only INSERT pending events, and
-- every read of the trail by the auditors' screens, exports and statistics chains first. An
-- event now waits up to a second in audit_event_pending before it has its place in the chain.

DROP TRIGGER audit_event_chain_at_commit ON audit_event_pending;
DROP FUNCTION audit_event_chain_at_commit();
