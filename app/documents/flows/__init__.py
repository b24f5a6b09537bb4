"""The default 公文 flow definitions shipped as YAML (fawen.yaml, shouwen.yaml); a package so
that the wheel carries them (package data "*.yaml")."""
