"""The three-host lab (db, app, backup) of `oa-ops lab`: see `cli.py` and DESIGN.md "The lab"."""
