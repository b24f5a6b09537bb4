-- The grants' stamp moves to the core's cache_generation (topic "grants"), the one mechanism
-- the department tree and the published flows use too. grants_generation stays, as a view,
-- for the workers still running the previous release while a deployment migrates.
INSERT INTO cache_generation VALUES ('grants', gen_random_uuid());

DROP TRIGGER user_role_grants_generation ON user_role;
DROP TRIGGER role_permission_grants_generation ON role_permission;
DROP TRIGGER role_grants_generation ON role;
DROP FUNCTION grants_generation_bump();
DROP TABLE grants_generation;

CREATE TRIGGER user_role_grants_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON user_role FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('grants');
CREATE TRIGGER role_permission_grants_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON role_permission FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('grants');
CREATE TRIGGER role_grants_generation AFTER UPDATE OR DELETE OR TRUNCATE
    ON role FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('grants');

CREATE VIEW grants_generation AS
    SELECT true AS singleton, stamp FROM cache_generation WHERE topic = 'grants';
REVOKE ALL ON grants_generation FROM PUBLIC;
GRANT SELECT ON grants_generation TO {{runtime_role}};
