"""Backup, restore and restore drills: `oa-ops backup | restore | drill` (cli.py) and the
program the backup roles install on the servers (agent.py)."""
