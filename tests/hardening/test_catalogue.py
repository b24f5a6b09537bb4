"""The 等保三级 catalogue's integrity (no lab): every control has an enforcement whose role and
tags exist in ansible/, a check that exists in the checker, a valid clause and a unique id; every
clause is covered on every target, or excused with a reason; the hardening role has a toggle per
control it enforces."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops_cli.compliance import catalogue as cat
from ops_cli.compliance.checks import all_checks

ROLES = Path(__file__).resolve().parents[2] / "ansible" / "roles"


@pytest.fixture(scope="module")
def catalogue() -> cat.Catalogue:
    return cat.load()


def _tags_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        tags = node.get("tags")
        if isinstance(tags, list):
            found |= {str(t) for t in tags}
        elif isinstance(tags, str):
            found.add(tags)
        for value in node.values():
            found |= _tags_in(value)
    elif isinstance(node, list):
        for item in node:
            found |= _tags_in(item)
    return found


def role_tags(role: str) -> set[str]:
    """Tags of a role's tasks (task files) and the role's own tag in site.yml."""
    tags = {role}
    for path in (ROLES / role / "tasks").glob("*.yml"):
        tags |= _tags_in(yaml.safe_load(path.read_text(encoding="utf-8")))
    return tags


def test_catalogue_loads_with_well_over_80_controls(catalogue: cat.Catalogue) -> None:
    assert len(catalogue.controls) > 80
    assert {c.target for c in catalogue.controls} == {"host", "postgresql", "nginx",
                                                      "application"}


def test_ids_are_unique_and_clauses_valid(catalogue: cat.Catalogue) -> None:
    ids = Counter(c.id for c in catalogue.controls)
    assert [i for i, n in ids.items() if n > 1] == []
    for control in catalogue.controls:
        assert control.clause in catalogue.clauses, control.id
        assert cat.CLAUSE_RE.match(control.clause), control.id


def test_every_clause_of_8_1_4_and_8_1_5_is_registered(catalogue: cat.Catalogue) -> None:
    expected = ([f"8.1.4.1.{x}" for x in "abcd"] + [f"8.1.4.2.{x}" for x in "abcdefg"]
                + [f"8.1.4.3.{x}" for x in "abcd"] + [f"8.1.4.4.{x}" for x in "abcdef"]
                + ["8.1.4.5.a", "8.1.4.6.a", "8.1.4.7.a", "8.1.4.7.b", "8.1.4.8.a", "8.1.4.8.b"]
                + [f"8.1.4.9.{x}" for x in "abc"] + ["8.1.4.10.a", "8.1.4.10.b", "8.1.4.11.a",
                                                       "8.1.4.11.b"]
                + [f"8.1.5.{n}.{x}" for n in (1, 2, 3) for x in "ab"]
                + [f"8.1.5.4.{x}" for x in "abcdef"])
    assert sorted(catalogue.clauses) == sorted(expected)


def test_every_clause_is_covered_on_every_target_or_excused(catalogue: cat.Catalogue) -> None:
    assert cat.coverage_gaps(catalogue) == []
    covered = {(c.clause, c.target) for c in catalogue.controls}
    excused = {(n.clause, n.target) for n in catalogue.not_applicable}
    assert covered & excused == set(), "a clause is both covered and excused on a target"
    for na in catalogue.not_applicable:
        assert len(na.reason) >= 8, f"{na.clause}/{na.target}: reason too short"


def test_every_check_exists_in_the_checker(catalogue: cat.Catalogue) -> None:
    checks = all_checks()
    missing = sorted({c.check for c in catalogue.controls} - set(checks))
    assert missing == []


def test_every_enforcement_names_an_existing_role_and_tags(catalogue: cat.Catalogue) -> None:
    problems = []
    for control in catalogue.controls:
        if control.pending:
            assert control.check.startswith("pending."), control.id
            continue
        if not (ROLES / control.role).is_dir():
            problems.append(f"{control.id}: role {control.role} missing")
            continue
        absent = set(control.tags) - role_tags(control.role)
        if absent:
            problems.append(f"{control.id}: tags {sorted(absent)} not in role {control.role}")
    assert problems == []


def test_only_hot_redundancy_is_pending(catalogue: cat.Catalogue) -> None:
    pending = [c for c in catalogue.controls if c.pending]
    # 8.1.4.9.c (热冗余) stays pending: the backup role gives no hot standby (issue 6).
    assert {c.clause for c in pending} == {"8.1.4.9.c"}
    assert all("issue 6" in c.pending for c in pending)


def test_hardening_role_has_a_toggle_and_a_tag_per_own_control(catalogue: cat.Catalogue) -> None:
    defaults = yaml.safe_load((ROLES / "hardening" / "defaults" / "main.yml").read_text())
    tags = role_tags("hardening")
    for control in catalogue.controls:
        if control.role != "hardening" or control.id not in control.tags:
            continue
        assert control.id in tags, control.id
        toggle = "hardening_" + control.id.lower().replace("-", "_") + "_enabled"
        assert defaults.get(toggle) is True, f"{control.id}: no {toggle} in defaults"


def test_config_only_controls_give_a_reason(catalogue: cat.Catalogue) -> None:
    config_only = [c for c in catalogue.controls if c.lab_config_only]
    assert config_only, "the lab cannot own the audit subsystem: some controls are config-only"
    for control in config_only:
        assert len(control.lab_config_only or "") >= 10, control.id


def test_schema_errors_are_named() -> None:
    data = yaml.safe_load(cat.CATALOGUE_FILE.read_text(encoding="utf-8"))
    data["controls"].append(dict(data["controls"][0]))
    with pytest.raises(cat.CatalogueError, match="重复"):
        cat.parse(data)
    broken = yaml.safe_load(cat.CATALOGUE_FILE.read_text(encoding="utf-8"))
    broken["controls"][0]["clause"] = "8.1.4.12.a"
    with pytest.raises(cat.CatalogueError, match=r"8\.1\.4\.12\.a"):
        cat.parse(broken)


def test_clause_filter_does_not_confuse_1_with_10() -> None:
    assert cat.clause_matches("8.1.4.1.a", "8.1.4.1")
    assert not cat.clause_matches("8.1.4.10.a", "8.1.4.1")
    assert cat.clause_matches("8.1.4.10.a", "8.1.4.10")
    assert re.match(r"^8", "8")


def test_every_toggle_switches_something() -> None:
    defaults = yaml.safe_load((ROLES / "hardening" / "defaults" / "main.yml").read_text())
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROLES / "hardening").rglob("*")
                        if p.is_file() and "defaults" not in p.parts)
    dead = [name for name in defaults if name.endswith("_enabled")
            and name.removeprefix("hardening_").removesuffix("_enabled") not in sources]
    assert dead == []
