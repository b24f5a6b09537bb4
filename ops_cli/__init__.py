"""oa-ops: the one command for operators and auditors."""
