"""Shared plumbing: configuration, database, migrations, web base, permissions.

The core never imports a feature; features register themselves through `Feature`.
"""
