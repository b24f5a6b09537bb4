-- Which flow versions exist (code, name, version, status) is read on most requests and changes
-- only when an administrator designs or publishes a flow: a web worker keeps it under the
-- "workflow" stamp (app/core/generation.py, app/workflow/engine.py).
INSERT INTO cache_generation VALUES ('workflow', gen_random_uuid());

CREATE TRIGGER wf_definition_workflow_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON wf_definition FOR EACH STATEMENT EXECUTE FUNCTION cache_generation_bump('workflow');
