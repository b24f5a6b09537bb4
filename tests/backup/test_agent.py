"""The backup program's pure parts: manifests, their comparison, metrics, receipts, WAL names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops_cli.backup import agent


def test_file_checksums_compare_equal_after_extraction_elsewhere(tmp_path: Path) -> None:
    source = tmp_path / "etc" / "oa"
    (source / "sub").mkdir(parents=True)
    (source / "oa.conf").write_text("port = 8888\n")
    (source / "sub" / "附件.bin").write_bytes(bytes(range(256)) * 10)
    taken = agent.file_checksums([source], relative_to=tmp_path)
    assert set(taken) == {"etc/oa/oa.conf", "etc/oa/sub/附件.bin"}
    restored = tmp_path / "restore"
    (restored / "etc" / "oa" / "sub").mkdir(parents=True)
    (restored / "etc/oa/oa.conf").write_text("port = 8888\n")
    (restored / "etc/oa/sub/附件.bin").write_bytes(bytes(range(256)) * 10)
    (restored / agent.MANIFEST_NAME).write_text("{}")  # extra files are not an error
    assert agent.compare_files(taken, agent.file_checksums([restored], restored)).ok


def test_file_comparison_names_missing_and_changed_files() -> None:
    expected = {"a": "1" * 64, "b": "2" * 64}
    result = agent.compare_files(expected, {"a": "0" * 64})
    assert not result.ok
    assert result.problems == ["文件 a 校验和不符", "文件 b 缺失"]


def test_row_count_comparison() -> None:
    expected = {"public.audit_event": 10, "public.users": 3}
    assert agent.compare_counts(expected, dict(expected)).ok
    result = agent.compare_counts(expected, {"public.audit_event": 9, "public.extra": 1})
    assert result.problems == ["表 public.audit_event 行数 9，清单为 10", "表 public.users 缺失",
                               "清单外的表 public.extra"]


def test_manifest_round_trip() -> None:
    manifest = agent.Manifest("db", "db", "2026-11-24T01:05:00", tables={"public.t": 5})
    again = agent.Manifest.from_json(manifest.to_json())
    assert again == manifest


def test_metrics_keep_the_last_success_after_a_failure(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent, "TEXTFILE_DIR", tmp_path)
    with agent.recorded("db"):
        pass
    good = (tmp_path / "oa_backup_db.prom").read_text()
    assert 'oa_backup_last_run_success{kind="db"} 1' in good
    success_line = next(line for line in good.splitlines()
                        if line.startswith("oa_backup_last_success_timestamp_seconds"))
    with pytest.raises(agent.BackupError), agent.recorded("db"):
        raise agent.BackupError("borg create 失败")
    bad = (tmp_path / "oa_backup_db.prom").read_text()
    assert 'oa_backup_last_run_success{kind="db"} 0' in bad
    assert success_line in bad  # monitoring still sees when the last good backup was
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left


def test_wal_segment_names() -> None:
    assert agent.wal_segment("0/2000028") == "000000010000000000000002"
    assert agent.wal_segment("1/FF000000", timeline=2) == "0000000200000001000000FF"


def test_receipt_html_is_chinese_and_escaped() -> None:
    receipt = {"started": "2026-11-24T10:00:00+00:00", "finished": "2026-11-24T10:01:30+00:00",
               "rto_seconds": 90.0, "ok": False, "host": "backup",
               "restored": {"db": {"archive": "db-2026-11-24T01:05:00"}},
               "steps": [{"name": "恢复数据库", "ok": True, "detail": "12 张表", "seconds": 3.0},
                         {"name": "校验审计日志哈希链", "ok": False,
                          "detail": "<script>坏</script>", "seconds": 1.0}]}
    page = agent.receipt_html(receipt)
    assert '<html lang="zh-CN">' in page
    assert "未通过" in page and "90.0 秒" in page and "db-2026-11-24T01:05:00" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_drill_list_and_show_read_receipts(tmp_path: Path) -> None:
    cfg = {"receipts_dir": str(tmp_path)}
    receipt = {"started": "2026-11-24T10:00:00+00:00", "ok": True, "rto_seconds": 42.0}
    (tmp_path / "drill-2026-11-24T100000.json").write_text(json.dumps(receipt))
    listed = agent.list_receipts(cfg)
    assert listed == [{"file": str(tmp_path / "drill-2026-11-24T100000.json"),
                       "started": receipt["started"], "ok": True, "rto_seconds": 42.0}]
    with pytest.raises(agent.BackupError):
        agent._receipt_at(cfg, Path("/etc/passwd"))


def test_server_config_lists_one_repository_per_client(tmp_path: Path) -> None:
    path = tmp_path / "oa-backup.json"
    path.write_text(json.dumps({"clients": ["db", "app"], "repo_dir": "/srv/borg/repos",
                                "config_dir": "/etc/oa-backup", "run_as": "borg"}))
    repos = agent.load_config(path)["repos"]
    assert [r["url"] for r in repos] == ["/srv/borg/repos/db", "/srv/borg/repos/app"]
    assert repos[1]["passphrase_file"] == "/etc/oa-backup/passphrases/app"
    with pytest.raises(agent.BackupError, match="缺少配置"):
        agent.load_config(tmp_path / "missing.json")


def test_archives_gone_without_server_pruning_are_client_deletions() -> None:
    seen = ["db-2026-11-23T01:05:00", "db-2026-11-24T01:05:00"]
    assert agent.client_deletions(seen, [*seen, "db-2026-11-25T01:05:00"]) == []
    assert agent.client_deletions(seen, seen[1:]) == ["db-2026-11-23T01:05:00"]
