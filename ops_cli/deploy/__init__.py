"""`oa-ops deploy` and `oa-ops status`: the platform onto its servers with Ansible."""

from ops_cli.deploy.cli import register

__all__ = ["register"]
