-- A stamp that changes whenever any role, role grant or role membership changes, so a web
-- worker may keep a user's merged permissions between requests and know, from the one
-- statement that resolves the session, whether they still hold (app/auth/sessions.py).
-- A random value rather than a counter: the tests and the benchmark empty tables and restart
-- ids, and a counter restarting at the same number would make an old cache entry look current.
CREATE TABLE grants_generation (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    stamp       uuid NOT NULL
);
INSERT INTO grants_generation VALUES (true, gen_random_uuid());

CREATE FUNCTION grants_generation_bump() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
BEGIN
    INSERT INTO grants_generation VALUES (true, gen_random_uuid())
    ON CONFLICT (singleton) DO UPDATE SET stamp = excluded.stamp;
    RETURN NULL;
END $$;

CREATE TRIGGER user_role_grants_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON user_role FOR EACH STATEMENT EXECUTE FUNCTION grants_generation_bump();
CREATE TRIGGER role_permission_grants_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON role_permission FOR EACH STATEMENT EXECUTE FUNCTION grants_generation_bump();
CREATE TRIGGER role_grants_generation AFTER UPDATE OR DELETE OR TRUNCATE
    ON role FOR EACH STATEMENT EXECUTE FUNCTION grants_generation_bump();

REVOKE ALL ON grants_generation FROM PUBLIC;
REVOKE ALL ON FUNCTION grants_generation_bump() FROM PUBLIC;
GRANT SELECT ON grants_generation TO {{runtime_role}};
