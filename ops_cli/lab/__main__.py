"""`python -m ops_cli.lab ...`: the lab commands without the rest of `oa-ops` (used by tests)."""

from .cli import lab_app

lab_app(prog_name="oa-ops lab")
