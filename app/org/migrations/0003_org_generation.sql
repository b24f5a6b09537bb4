-- The department tree and the positions are read on most requests and change rarely: a web
-- worker keeps them under the "org" stamp (app/core/generation.py, app/org/service.py).
INSERT INTO cache_generation VALUES ('org', gen_random_uuid());

CREATE TRIGGER department_org_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON department FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('org');
CREATE TRIGGER position_org_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON position FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('org');
