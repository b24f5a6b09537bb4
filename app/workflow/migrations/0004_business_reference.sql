-- What the todo centre shows of an instance's business object (a 公文's 文号): kept on the
-- instance itself by the feature that owns the object (its triggers, e.g. the documents'
-- migration 0003), so that every list page reads it with its rows instead of asking that
-- feature in a statement of its own (app/workflow/business.py; bench/README.md, finding 71).
ALTER TABLE wf_instance ADD COLUMN business_reference text NOT NULL DEFAULT '';
