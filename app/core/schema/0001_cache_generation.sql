-- A stamp per topic of rarely-changing reference data (the department tree, the published
-- flows) that changes whenever that data changes, so a web worker may keep the data between
-- requests and learn from one cheap read whether it still holds (app/core/generation.py).
-- A feature ties a topic to its tables with statement-level triggers:
--     CREATE TRIGGER t_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON t
--         FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('topic');
-- Random values rather than counters: the tests and the benchmark empty tables and restart
-- ids, and a counter restarting at the same number would make an old entry look current; a
-- stamp written by a transaction that rolls back never becomes current either.
CREATE TABLE cache_generation (
    topic   text PRIMARY KEY,
    stamp   uuid NOT NULL
);

CREATE FUNCTION cache_generation_bump() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
BEGIN
    INSERT INTO cache_generation VALUES (TG_ARGV[0], gen_random_uuid())
    ON CONFLICT (topic) DO UPDATE SET stamp = excluded.stamp;
    RETURN NULL;
END $$;

REVOKE ALL ON cache_generation FROM PUBLIC;
REVOKE ALL ON FUNCTION cache_generation_bump() FROM PUBLIC;
GRANT SELECT ON cache_generation TO {{runtime_role}};
