"""`oa-ops compliance`: the 等保三级 control catalogue (hardening/catalogue.yml) checked, read-only,
against the servers of an inventory, with a report for the evaluators (HTML, JSON, PDF)."""
