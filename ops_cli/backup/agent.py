#!/usr/bin/python3
"""oa-backup: the backup program that runs on the servers (installed by the backup roles as
/usr/local/sbin/oa-backup; Python standard library only, plus Debian's psycopg2 on the
database server).

borg is the engine. This program adds what borg and borgmatic do not: a manifest of row counts
taken from the *same snapshot* as the dump (pg_export_snapshot + pg_dump --snapshot), checksums
of the files, the metrics of each run, retention by series on the backup server (the clients
may only append), and restores that verify against the manifest.

Subcommands (each writes /var/lib/prometheus/node-exporter/oa_backup_<kind>.prom):
  client: db, files [--series daily|weekly], restore-db --in-place, list
  server: basebackup, prune, check, restore-db, restore-files, pitr, drill, scratch-stop
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = Path("/etc/oa-backup/oa-backup.json")
TEXTFILE_DIR = Path("/var/lib/prometheus/node-exporter")
DUMP_NAME = "oa.dump"
MANIFEST_NAME = "oa-backup-manifest.json"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class BackupError(RuntimeError):
    """A step failed (message in Chinese)."""


# --- manifests ------------------------------------------------------------------------------

@dataclass
class Manifest:
    """What an archive must contain: row counts of every table, or checksums of every file."""

    kind: str
    host: str
    created: str
    tables: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(kind=data["kind"], host=data["host"], created=data["created"],
                   tables={k: int(v) for k, v in data.get("tables", {}).items()},
                   files=dict(data.get("files", {})))


def file_checksums(roots: list[Path], relative_to: Path = Path("/")) -> dict[str, str]:
    """sha256 of every regular file under the roots, keyed by its path relative to
    `relative_to` (so a tree extracted elsewhere compares equal)."""
    sums: dict[str, str] = {}
    for root in roots:
        if root.is_file():
            sums[str(root.relative_to(relative_to))] = _sha256(root)
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            sums[str(path.relative_to(relative_to))] = _sha256(path)
    return sums


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Comparison:
    """The result of checking a restore against its manifest."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> Comparison:
    result = _compare(expected, actual, "表 {} 缺失", "表 {0} 行数 {2}，清单为 {1}")
    result.problems += [f"清单外的表 {t}" for t in sorted(set(actual) - set(expected))]
    return result


def compare_files(expected: dict[str, str], actual: dict[str, str]) -> Comparison:
    return _compare(expected, actual, "文件 {} 缺失", "文件 {0} 校验和不符")


def _compare(expected: dict[str, Any], actual: dict[str, Any], missing: str,
             differs: str) -> Comparison:
    result = Comparison(checked=len(expected))
    for key, value in sorted(expected.items()):
        if key not in actual:
            result.problems.append(missing.format(key))
        elif actual[key] != value:
            result.problems.append(differs.format(key, value, actual[key]))
    return result


# --- metrics --------------------------------------------------------------------------------

def metrics_text(kind: str, started: float, duration: float, ok: bool,
                 last_success: float | None) -> str:
    """The textfile collector's lines for one run (contracts.md, "Backup metrics")."""
    label = f'{{kind="{kind}"}}'
    lines = [
        "# HELP oa_backup_last_run_timestamp_seconds Start of the last backup run.",
        "# TYPE oa_backup_last_run_timestamp_seconds gauge",
        f"oa_backup_last_run_timestamp_seconds{label} {started:.0f}",
        "# HELP oa_backup_last_run_success 1 if the last backup run succeeded.",
        "# TYPE oa_backup_last_run_success gauge",
        f"oa_backup_last_run_success{label} {1 if ok else 0}",
        "# HELP oa_backup_last_duration_seconds Duration of the last backup run.",
        "# TYPE oa_backup_last_duration_seconds gauge",
        f"oa_backup_last_duration_seconds{label} {duration:.1f}",
    ]
    if last_success is not None:
        lines += ["# HELP oa_backup_last_success_timestamp_seconds End of the last good run.",
                  "# TYPE oa_backup_last_success_timestamp_seconds gauge",
                  f"oa_backup_last_success_timestamp_seconds{label} {last_success:.0f}"]
    return "\n".join(lines) + "\n"


def drill_metrics_text(started: float, ok: bool, rto: float, last_success: float | None) -> str:
    lines = ["# TYPE oa_drill_last_run_timestamp_seconds gauge",
             f"oa_drill_last_run_timestamp_seconds {started:.0f}",
             "# TYPE oa_drill_last_run_success gauge",
             f"oa_drill_last_run_success {1 if ok else 0}",
             "# TYPE oa_drill_last_rto_seconds gauge",
             f"oa_drill_last_rto_seconds {rto:.1f}"]
    if last_success is not None:
        lines += ["# TYPE oa_drill_last_success_timestamp_seconds gauge",
                  f"oa_drill_last_success_timestamp_seconds {last_success:.0f}"]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _previous_success(path: Path, metric: str) -> float | None:
    if not path.exists():
        return None
    found = re.search(rf"^{metric}(?:{{[^}}]*}})? (\S+)$", path.read_text(), re.MULTILINE)
    return float(found.group(1)) if found else None


@contextlib.contextmanager
def recorded(kind: str) -> Iterator[None]:
    """Run a backup step and write its metrics, success or not; failures propagate."""
    path = TEXTFILE_DIR / f"oa_backup_{kind}.prom"
    started = time.time()
    ok = False
    try:
        yield
        ok = True
    finally:
        finished = time.time()
        last = finished if ok else _previous_success(
            path, "oa_backup_last_success_timestamp_seconds")
        write_atomically(path, metrics_text(kind, started, finished - started, ok, last))
        log(f"{kind}：{'成功' if ok else '失败'}，用时 {finished - started:.1f} 秒")


def log(message: str) -> None:
    print(f"[oa-backup] {message}", file=sys.stderr, flush=True)


# --- configuration and borg -----------------------------------------------------------------

def load_config(path: Path = CONFIG_FILE) -> dict[str, Any]:
    try:
        cfg = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"缺少配置 {path}（由备份角色安装）") from None
    if "clients" in cfg:  # the backup server: one local repository per client
        cfg["repos"] = [{"name": client, "url": f"{cfg['repo_dir']}/{client}",
                         "passphrase_file": f"{cfg['config_dir']}/passphrases/{client}",
                         "run_as": cfg["run_as"], "base_dir": "/var/lib/oa-backup/borg"}
                        for client in cfg["clients"]]
    return cfg


def borg_env(repo: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env["BORG_PASSCOMMAND"] = f"cat {shlex.quote(repo['passphrase_file'])}"
    env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes"
    env["BORG_BASE_DIR"] = repo.get("base_dir", "/var/lib/oa-backup/borg")
    if repo.get("ssh_command"):
        env["BORG_RSH"] = repo["ssh_command"]
    return env


def borg_command(repo: dict[str, Any], *args: str) -> list[str]:
    """borg as the repository's owner on the backup server (so its lock and cache files stay
    the borg account's), as root on the clients."""
    prefix = ["runuser", "-u", repo["run_as"], "--"] if repo.get("run_as") else []
    return [*prefix, "borg", *args]


def borg(repo: dict[str, Any], *args: str, capture: bool = True,
         stdin: Any = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(borg_command(repo, *args), env=borg_env(repo), text=True,
                            stdin=stdin, capture_output=capture, check=False, cwd=cwd)
    if result.returncode not in (0, 1):  # 1 = warnings (e.g. a file changed while read)
        raise BackupError(f"borg {args[0]} 失败：{(result.stderr or '').strip()[-600:]}")
    return result


def archive_name(prefix: str, now: dt.datetime | None = None) -> str:
    return f"{prefix}-{(now or dt.datetime.now(dt.UTC)).strftime(TIME_FORMAT)}"


def list_archives(repo: dict[str, Any], prefix: str | None = None) -> list[dict[str, Any]]:
    args = ["list", "--json", repo["url"]]
    if prefix:
        args[1:1] = ["--glob-archives", f"{prefix}-*"]
    data = json.loads(borg(repo, *args).stdout)
    return sorted(data.get("archives", []), key=lambda a: a["time"])


def archive_comment(repo: dict[str, Any], archive: str) -> str:
    data = json.loads(borg(repo, "info", "--json", f"{repo['url']}::{archive}").stdout)
    return str(data["archives"][0].get("comment", ""))


def pick_archive(repo: dict[str, Any], prefix: str, name: str | None) -> str:
    archives = [a["name"] for a in list_archives(repo, prefix)]
    if name:
        if name not in archives:
            raise BackupError(f"仓库 {repo['url']} 中没有归档 {name}")
        return name
    if not archives:
        raise BackupError(f"仓库 {repo['url']} 中还没有 {prefix} 归档")
    return archives[-1]


# --- client: database -----------------------------------------------------------------------

def dump_database(cfg: dict[str, Any]) -> str:
    """A logical dump streamed into borg, and a row-count manifest of the same snapshot,
    stored as the archive's comment (encrypted with the archive's metadata)."""
    import psycopg2

    repo = cfg["repo"]
    database = cfg["database"]
    conn = psycopg2.connect(dbname=database, user=cfg["db_role"], host=cfg["db_socket_dir"],
                            port=cfg.get("db_port", 5432))
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            tables = count_rows(cur)
        manifest = Manifest("db", cfg["host"], _now(), tables=tables)
        name = archive_name("db")
        dump = subprocess.Popen(
            [*cfg.get("pg_dump", ["pg_dump"]), "--format=custom", f"--snapshot={snapshot}",
             "--username", cfg["db_role"], "--host", cfg["db_socket_dir"],
             "--port", str(cfg.get("db_port", 5432)), database],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            borg(repo, "create", "--stats", "--compression", cfg.get("compression", "zstd,3"),
                 "--comment", _literal(manifest.to_json()), "--stdin-name", DUMP_NAME,
                 f"{repo['url']}::{name}", "-", stdin=dump.stdout)
        finally:
            dump.stdout.close()
            _, err = dump.communicate()
        if dump.returncode != 0:
            raise BackupError(f"pg_dump 失败：{err.decode(errors='replace').strip()[-600:]}")
    finally:
        conn.close()
    log(f"数据库已备份为 {name}（{len(tables)} 张表）")
    return name


def _literal(text: str) -> str:
    """borg expands {placeholders} in comments: keep the JSON's braces literal."""
    return text.replace("{", "{{").replace("}", "}}")


def count_rows(cur: Any) -> dict[str, int]:
    cur.execute("""SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog',
                   'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1""")
    names = [row[0] for row in cur.fetchall()]
    counts = {}
    for name in names:
        cur.execute(f"SELECT count(*) FROM ONLY {name}")  # names quoted by quote_ident
        counts[name] = int(cur.fetchone()[0])
    return counts


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)


# --- client: files --------------------------------------------------------------------------

def backup_files(cfg: dict[str, Any], series: str) -> str:
    repo = cfg["repo"]
    roots = [Path(p) for p in cfg["files"] if Path(p).exists()]
    manifest_path = Path(cfg["state_dir"]) / MANIFEST_NAME
    manifest = Manifest("files", cfg["host"], _now(), files=file_checksums(roots))
    write_atomically(manifest_path, manifest.to_json())
    # Distinct name prefixes (not files-weekly-*, which files-* would match) keep the two series
    # apart for pruning.
    prefix = "files" if series == "daily" else "weekly-files"
    name = archive_name(prefix)
    borg(repo, "create", "--stats", "--compression", cfg.get("compression", "zstd,3"),
         "--comment", f"files={len(manifest.files)}", f"{repo['url']}::{name}",
         str(manifest_path), *map(str, roots))
    log(f"文件已备份为 {name}（{len(manifest.files)} 个文件）")
    return name


# --- PostgreSQL helpers (scratch cluster on the backup server, local database) ----------------

def as_postgres(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("capture_output", True)
    result = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], text=True, check=False,
                            **kwargs)
    if result.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} 失败：{(result.stderr or '').strip()[-800:]}")
    return result


def psql(cfg: dict[str, Any], sql: str, database: str = "postgres",
         port: int | None = None, socket: str | None = None) -> str:
    return as_postgres(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h",
                        socket or cfg["db_socket_dir"], "-p", str(port or cfg.get("db_port", 5432)),
                        "-d", database, "-c", sql]).stdout


def live_counts(database: str, socket: str, port: int) -> dict[str, int]:
    """Row counts of a restored database, by the same query as at backup time."""
    script = ("import json,psycopg2,sys\n"
              f"conn = psycopg2.connect(dbname={database!r}, host={socket!r}, port={port})\n"
              "sys.path.insert(0, '/usr/local/sbin')\n"
              "import importlib.machinery as m\n"
              "agent = m.SourceFileLoader('agent', '/usr/local/sbin/oa-backup').load_module()\n"
              "print(json.dumps(agent.count_rows(conn.cursor())))\n")
    return json.loads(as_postgres(["python3", "-c", script]).stdout)


@dataclass
class Scratch:
    """A throwaway PostgreSQL on the backup server, only on a unix socket."""

    root: Path
    port: int
    bin_dir: str

    @property
    def data(self) -> Path:
        return self.root / "pg"

    @property
    def socket(self) -> str:
        return str(self.root / "run")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            as_postgres([f"{self.bin_dir}/pg_ctl", "-D", str(self.data), "-m", "immediate",
                         "-w", "stop"])

    def reset(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, mode=0o700)
        (self.root / "run").mkdir(mode=0o700)
        shutil.chown(self.root, "postgres", "postgres")
        shutil.chown(self.root / "run", "postgres", "postgres")

    def init(self) -> None:
        as_postgres([f"{self.bin_dir}/initdb", "-D", str(self.data), "-U", "postgres",
                     "--auth=peer", "--encoding=UTF8", "--locale=C.UTF-8"])

    def start(self, *settings: str) -> None:
        options = " ".join(["-c listen_addresses=''", f"-p {self.port}",
                            f"-c unix_socket_directories={self.socket}", *settings])
        as_postgres([f"{self.bin_dir}/pg_ctl", "-D", str(self.data), "-o", options, "-w",
                     "-t", "600", "-l", str(self.root / "server.log"), "start"])


def scratch_of(cfg: dict[str, Any]) -> Scratch:
    return Scratch(Path(cfg["scratch_dir"]), int(cfg.get("scratch_port", 5433)), cfg["pg_bin_dir"])


def restore_dump_into(stream: Any, socket: str, port: int, database: str,
                      keep_roles: bool) -> None:
    """pg_restore --create of a custom-format dump read from `stream` (replacing `database`)."""
    as_postgres(["psql", "-XAtq", "-h", socket, "-p", str(port), "-d", "postgres", "-c",
                 f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'])
    args = ["pg_restore", "--create", "--exit-on-error", "-h", socket, "-p", str(port),
            "-d", "postgres"]
    if not keep_roles:  # a scratch cluster has none of the platform's roles
        args += ["--no-owner", "--no-privileges"]
    as_postgres(args, stdin=stream, capture_output=False, stderr=subprocess.PIPE)


def extract_dump(repo: dict[str, Any], archive: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(borg_command(repo, "extract", "--stdout",
                                         f"{repo['url']}::{archive}", DUMP_NAME),
                            env=borg_env(repo), stdout=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes], what: str) -> None:
    if proc.stdout:
        proc.stdout.close()
    if proc.wait() != 0:
        raise BackupError(f"{what} 失败（退出码 {proc.returncode}）")


# --- restores -------------------------------------------------------------------------------

@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float


def timed(steps: list[Step], name: str, action: Callable[[], str]) -> None:
    started = time.monotonic()
    try:
        detail = action()
        steps.append(Step(name, True, detail, time.monotonic() - started))
    except (BackupError, OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        steps.append(Step(name, False, str(exc), time.monotonic() - started))


def restore_db_scratch(cfg: dict[str, Any], repo: dict[str, Any],
                       archive: str | None) -> dict[str, Any]:
    scratch = scratch_of(cfg)
    archive = pick_archive(repo, "db", archive)
    manifest = Manifest.from_json(archive_comment(repo, archive))
    scratch.reset()
    scratch.init()
    scratch.start()
    proc = extract_dump(repo, archive)
    restore_dump_into(proc.stdout, scratch.socket, scratch.port, cfg["database"], keep_roles=False)
    _finish(proc, "borg extract")
    comparison = compare_counts(manifest.tables,
                                live_counts(cfg["database"], scratch.socket, scratch.port))
    return {"archive": archive, "tables": comparison.checked, "problems": comparison.problems,
            "rows": sum(manifest.tables.values()), "socket": scratch.socket, "port": scratch.port}


def restore_db_in_place(cfg: dict[str, Any], archive: str | None) -> dict[str, Any]:
    repo = cfg["repo"]
    archive = pick_archive(repo, "db", archive)
    manifest = Manifest.from_json(archive_comment(repo, archive))
    proc = extract_dump(repo, archive)
    restore_dump_into(proc.stdout, cfg["db_socket_dir"], cfg.get("db_port", 5432),
                      cfg["database"], keep_roles=True)
    _finish(proc, "borg extract")
    actual = live_counts(cfg["database"], cfg["db_socket_dir"], cfg.get("db_port", 5432))
    comparison = compare_counts(manifest.tables, actual)
    return {"archive": archive, "tables": comparison.checked, "problems": comparison.problems}


def load_dump_in_place(cfg: dict[str, Any]) -> dict[str, Any]:
    """Replace the database with a custom-format dump read from stdin (a point-in-time restore
    made on the backup server, streamed here by `oa-ops restore`); the row counts of the result,
    which the caller compares with the point-in-time instance's."""
    socket, port = cfg["db_socket_dir"], cfg.get("db_port", 5432)
    restore_dump_into(sys.stdin.buffer, socket, port, cfg["database"], keep_roles=True)
    return {"counts": live_counts(cfg["database"], socket, port)}


def restore_files_scratch(cfg: dict[str, Any], repo: dict[str, Any], archive: str | None,
                          target: Path) -> dict[str, Any]:
    prefix = "weekly-files" if archive and archive.startswith("weekly-files") else "files"
    archive = pick_archive(repo, prefix, archive)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, mode=0o700)
    if repo.get("run_as"):
        shutil.chown(target, repo["run_as"])
    borg(repo, "extract", f"{repo['url']}::{archive}", cwd=str(target))
    manifest_file = next(target.rglob(MANIFEST_NAME), None)
    if manifest_file is None:
        raise BackupError(f"归档 {archive} 中没有清单 {MANIFEST_NAME}")
    manifest = Manifest.from_json(manifest_file.read_text())
    actual = file_checksums([target], relative_to=target)
    comparison = compare_files(manifest.files, actual)
    return {"archive": archive, "files": comparison.checked, "problems": comparison.problems,
            "directory": str(target)}


def restore_files_in_place(cfg: dict[str, Any]) -> dict[str, Any]:
    """Extract the latest files archive over this host's own paths (nothing else is touched),
    then check every file of its manifest."""
    repo = cfg["repo"]
    archive = pick_archive(repo, "files", None)
    borg(repo, "extract", f"{repo['url']}::{archive}", cwd="/")
    manifest = Manifest.from_json((Path(cfg["state_dir"]) / MANIFEST_NAME).read_text())
    actual = {path: _sha256(Path("/") / path) for path in manifest.files
              if (Path("/") / path).is_file()}
    comparison = compare_files(manifest.files, actual)
    return {"archive": archive, "files": comparison.checked, "problems": comparison.problems}


# --- server: WAL, base backups, point in time ------------------------------------------------

def wal_segment(lsn: str, timeline: int = 1, segment_mb: int = 16) -> str:
    """The WAL file name holding an LSN such as '0/2000028'."""
    high, low = (int(part, 16) for part in lsn.split("/"))
    per_id = 0x100000000 // (segment_mb * 1024 * 1024)
    segment = ((high << 32) | low) // (segment_mb * 1024 * 1024)
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


def base_backup(cfg: dict[str, Any]) -> str:
    base_root = Path(cfg["base_dir"])
    name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = base_root / name
    result = subprocess.run(
        ["runuser", "-u", cfg["wal_user"], "--", f"{cfg['pg_bin_dir']}/pg_basebackup",
         "--dbname", cfg["replication_conninfo"], "--pgdata", str(target), "--format=tar",
         "--gzip", "--wal-method=stream", "--checkpoint=fast", "--verbose",
         "--no-password"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise BackupError(f"pg_basebackup 失败：{result.stderr.strip()[-600:]}")
    found = re.search(r"start point: ([0-9A-F]+/[0-9A-F]+) on timeline (\d+)", result.stderr)
    if not found:
        raise BackupError("pg_basebackup 未报告起始 WAL 位置")
    info = {"name": name, "started": _now_iso(), "start_wal": wal_segment(
        found.group(1), int(found.group(2))), "start_lsn": found.group(1)}
    (target / "oa-base.json").write_text(json.dumps(info))
    _prune_base_backups(cfg)
    return name


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def base_backups(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for info in sorted(Path(cfg["base_dir"]).glob("*/oa-base.json")):
        data = json.loads(info.read_text())
        data["path"] = str(info.parent)
        found.append(data)
    return sorted(found, key=lambda d: d["started"])


def _prune_base_backups(cfg: dict[str, Any]) -> None:
    """Keep the newest `base_keep` base backups and only the WAL they need."""
    kept = base_backups(cfg)
    for old in kept[:-int(cfg.get("base_keep", 2))]:
        shutil.rmtree(old["path"], ignore_errors=True)
    kept = base_backups(cfg)
    if kept:
        subprocess.run([f"{cfg['pg_bin_dir']}/pg_archivecleanup", cfg["wal_dir"],
                        kept[0]["start_wal"]], capture_output=True, check=False)


def point_in_time(cfg: dict[str, Any], target_time: str) -> dict[str, Any]:
    """A scratch cluster recovered from the last base backup before `target_time` plus the
    streamed WAL, stopped at `target_time` (a timestamp with zone, e.g. '2026-11-24 10:15+08')."""
    target = dt.datetime.fromisoformat(target_time)
    if target.tzinfo is None:
        raise BackupError("恢复时间点必须带时区")
    candidates = [b for b in base_backups(cfg)
                  if dt.datetime.fromisoformat(b["started"]) <= target]
    if not candidates:
        raise BackupError(f"{target_time} 之前没有基础备份，无法按时间点恢复")
    base = candidates[-1]
    scratch = scratch_of(cfg)
    scratch.reset()
    scratch.data.mkdir(mode=0o700)
    for tar, dest in (("base.tar.gz", scratch.data), ("pg_wal.tar.gz", scratch.data / "pg_wal")):
        dest.mkdir(mode=0o700, exist_ok=True)
        subprocess.run(["tar", "-xzf", str(Path(base["path"]) / tar), "-C", str(dest)], check=True)
    subprocess.run(["chown", "-R", "postgres:postgres", str(scratch.root)], check=True)
    wal = shlex.quote(cfg["wal_dir"])
    restore_command = (f"cp {wal}/%f %p 2>/dev/null || cp {wal}/%f.partial %p")
    (scratch.data / "recovery.signal").touch()
    shutil.chown(scratch.data / "recovery.signal", "postgres", "postgres")
    # The distribution keeps the server's configuration outside the data directory (so the
    # base backup has none): a minimal one, local peer access only.
    (scratch.data / "postgresql.conf").write_text(
        f"restore_command = '{restore_command}'\n"
        f"recovery_target_time = '{target.isoformat()}'\n"
        "recovery_target_action = 'promote'\narchive_mode = off\nssl = off\n")
    (scratch.data / "pg_hba.conf").write_text("local all all peer\n")
    (scratch.data / "pg_ident.conf").write_text("")
    (scratch.data / "postgresql.auto.conf").write_text("")
    subprocess.run(["chown", "-R", "postgres:postgres", str(scratch.data)], check=True)
    scratch.start()
    _wait_promoted(scratch)
    counts = live_counts(cfg["database"], scratch.socket, scratch.port)
    return {"base": base["name"], "target": target.isoformat(), "tables": len(counts),
            "counts": counts, "socket": scratch.socket, "port": scratch.port}


def _wait_promoted(scratch: Scratch, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-h",
                              scratch.socket, "-p", str(scratch.port), "-d", "postgres", "-c",
                              "SELECT pg_is_in_recovery()"], capture_output=True, text=True,
                             check=False)
        if out.stdout.strip() == "f":
            return
        time.sleep(1)
    raise BackupError("按时间点恢复超时（未完成恢复）")


# --- server: retention and checks -----------------------------------------------------------

def client_deletions(seen: list[str], current: list[str]) -> list[str]:
    """Archives this server saw that are gone without its own pruning: a client (append-only)
    can only *mark* archives deleted, and this server's prune/compact would make that final."""
    return sorted(set(seen) - set(current))


def _seen_file(repo: dict[str, Any]) -> Path:
    return Path("/var/lib/oa-backup") / f"archives-{repo['name']}.json"


def prune_repos(cfg: dict[str, Any]) -> list[str]:
    done = []
    for repo in cfg["repos"]:
        current = [a["name"] for a in list_archives(repo)]
        seen_file = _seen_file(repo)
        seen = json.loads(seen_file.read_text()) if seen_file.exists() else []
        missing = client_deletions(seen, current)
        if missing:
            raise BackupError(f"仓库 {repo['name']} 中的归档被客户端标记删除：{missing[:5]}；"
                              "已停止清理，请核查后按 borg 事务日志回滚")
        for prefix, keep in cfg["retention"].items():
            args = ["prune", "--glob-archives", f"{prefix}-*"] + [
                f"--keep-{unit}={count}" for unit, count in keep.items()]
            borg(repo, *args, repo["url"])
        borg(repo, "compact", repo["url"])
        write_atomically(seen_file, json.dumps([a["name"] for a in list_archives(repo)]))
        done.append(repo["name"])
    return done


def check_repos(cfg: dict[str, Any]) -> list[str]:
    for repo in cfg["repos"]:
        borg(repo, "check", repo["url"])
    return [repo["name"] for repo in cfg["repos"]]


# --- server: the drill ----------------------------------------------------------------------

def run_drill(cfg: dict[str, Any]) -> dict[str, Any]:
    started = time.time()
    steps: list[Step] = []
    restored: dict[str, Any] = {}
    db_repo = next(r for r in cfg["repos"] if r["name"] == cfg["db_repo"])

    def database() -> str:
        restored["db"] = restore_db_scratch(cfg, db_repo, None)
        _raise_problems(restored["db"]["problems"])
        return (f"归档 {restored['db']['archive']}：{restored['db']['tables']} 张表、"
                f"{restored['db']['rows']} 行与清单一致")

    def audit_chain() -> str:
        url = (f"postgresql://postgres@/{cfg['database']}?host={scratch_of(cfg).socket}"
               f"&port={scratch_of(cfg).port}")
        out = subprocess.run(["runuser", "-u", "postgres", "--", "env", f"OA_DATABASE_URL={url}",
                              f"OA_MIGRATION_DATABASE_URL={url}", "OA_CONFIG_FILE=/dev/null",
                              cfg["audit_verify"][0], *cfg["audit_verify"][1:]],
                             capture_output=True, text=True, check=False)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr).strip()
        if out.returncode != 0:
            raise BackupError(f"审计日志哈希链校验失败：{text[-400:]}")
        return text.splitlines()[-1] if text else "审计日志哈希链完整"

    timed(steps, "恢复数据库到临时实例并核对行数", database)
    timed(steps, "校验审计日志哈希链", audit_chain)
    for repo in cfg["repos"]:
        if not list_archives(repo, "files"):
            continue

        def files(repo: dict[str, Any] = repo) -> str:
            target = Path(cfg["scratch_dir"]).parent / "drill-files" / repo["name"]
            restored[f"files:{repo['name']}"] = result = restore_files_scratch(
                cfg, repo, None, target)
            _raise_problems(result["problems"])
            return f"归档 {result['archive']}：{result['files']} 个文件校验和一致"

        timed(steps, f"恢复 {repo['name']} 的文件并核对校验和", files)
    finished = time.time()
    receipt = {
        "kind": "drill", "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(
            timespec="seconds"), "finished": dt.datetime.fromtimestamp(finished, dt.UTC).isoformat(
            timespec="seconds"), "rto_seconds": round(finished - started, 1),
        "ok": bool(steps) and all(s.ok for s in steps), "host": os.uname().nodename,
        "restored": restored, "steps": [asdict(s) for s in steps]}
    _save_receipt(cfg, receipt)
    return receipt


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise BackupError("；".join(problems[:10]) + ("……" if len(problems) > 10 else ""))


def _save_receipt(cfg: dict[str, Any], receipt: dict[str, Any]) -> None:
    folder = Path(cfg["receipts_dir"])
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    stem = "drill-" + receipt["started"][:19].replace(":", "")
    write_atomically(folder / f"{stem}.json", json.dumps(receipt, ensure_ascii=False, indent=2))
    write_atomically(folder / f"{stem}.html", receipt_html(receipt))
    path = TEXTFILE_DIR / "oa_drill.prom"
    started = dt.datetime.fromisoformat(receipt["started"]).timestamp()
    last = (dt.datetime.fromisoformat(receipt["finished"]).timestamp() if receipt["ok"]
            else _previous_success(path, "oa_drill_last_success_timestamp_seconds"))
    write_atomically(path, drill_metrics_text(started, receipt["ok"], receipt["rto_seconds"], last))


def receipt_html(receipt: dict[str, Any]) -> str:
    """A printable receipt in Chinese, kept as audit evidence of the drill."""
    esc = html.escape
    verdict = "通过" if receipt["ok"] else "未通过"
    rows = "".join(
        f"<tr><td>{esc(s['name'])}</td><td class=\"{'ok' if s['ok'] else 'bad'}\">"
        f"{'通过' if s['ok'] else '失败'}</td><td>{esc(s['detail'])}</td>"
        f"<td>{s['seconds']:.1f} 秒</td></tr>" for s in receipt["steps"])
    archives = "".join(f"<li>{esc(k)}：{esc(str(v.get('archive', '')))}</li>"
                       for k, v in receipt["restored"].items())
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>恢复演练回执 {esc(receipt['started'][:10])}</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;margin:2em}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #444;padding:4px 8px;text-align:left}}.ok{{color:#060}}.bad{{color:#b00}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>备份恢复演练回执</h1>
<p>结论：<strong class="{'ok' if receipt['ok'] else 'bad'}">{verdict}</strong></p>
<p>演练主机：{esc(receipt['host'])}；开始：{esc(receipt['started'])}；结束：{esc(receipt['finished'])}；
实测恢复时间（RTO）：{receipt['rto_seconds']:.1f} 秒（要求 30 分钟内）</p>
<h2>恢复的归档</h2><ul>{archives}</ul>
<h2>核查项目</h2>
<table><tr><th>项目</th><th>结果</th><th>说明</th><th>用时</th></tr>{rows}</table>
<p>本回执由 oa-backup drill 自动生成，作为等保三级 8.1.4.9 备份与恢复的审计证据保存。</p>
<p>审核人签字：__________　日期：__________</p>
</body></html>
"""


def _receipt_at(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    folder = Path(cfg["receipts_dir"]).resolve()
    if path.resolve().parent != folder:
        raise BackupError(f"{path} 不是演练回执")
    receipt = json.loads(path.read_text())
    receipt["file"] = str(path.with_suffix(".html"))
    return receipt


def list_receipts(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path in sorted(Path(cfg["receipts_dir"]).glob("drill-*.json")):
        data = json.loads(path.read_text())
        found.append({"file": str(path), "started": data["started"], "ok": data["ok"],
                      "rto_seconds": data["rto_seconds"]})
    return found


# --- command line ---------------------------------------------------------------------------

def _repo_named(cfg: dict[str, Any], name: str | None) -> dict[str, Any]:
    if "repo" in cfg:
        return cfg["repo"]
    for repo in cfg["repos"]:
        if repo["name"] == (name or cfg["db_repo"]):
            return repo
    raise BackupError(f"没有名为 {name} 的仓库")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oa-backup",
                                     description="平台的备份与恢复程序（服务器端）")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("db", help="数据库逻辑备份（流式写入 borg，附行数清单）")
    files = sub.add_parser("files", help="文件备份（附校验和清单）")
    files.add_argument("--series", choices=["daily", "weekly"], default="daily")
    listing = sub.add_parser("list", help="列出归档（JSON）")
    listing.add_argument("--repo")
    restore = sub.add_parser("restore-db", help="恢复数据库")
    restore.add_argument("--archive")
    restore.add_argument("--repo")
    restore.add_argument("--in-place", action="store_true")
    sub.add_parser("load-db", help="用标准输入的转储替换本机数据库")
    rfiles = sub.add_parser("restore-files", help="恢复文件到临时目录并核对校验和")
    rfiles.add_argument("--repo", required=True)
    rfiles.add_argument("--archive")
    rfiles.add_argument("--target", required=True)
    rfiles.add_argument("--in-place", action="store_true",
                        help="在本机原位恢复（--target /），只覆盖归档中的文件")
    show = sub.add_parser("drill-show", help="显示一份演练回执（JSON）")
    show.add_argument("--file", required=True)
    pitr = sub.add_parser("pitr", help="按时间点恢复到临时实例")
    pitr.add_argument("--time", required=True)
    sub.add_parser("dump-scratch", help="把临时实例的数据库转储到标准输出")
    for name in ("basebackup", "prune", "check", "drill", "drill-list", "scratch-stop"):
        sub.add_parser(name)
    args = parser.parse_args(argv)
    try:
        result = _dispatch(load_config(), args)
    except BackupError as exc:
        log(f"错误：{exc}")
        return 1
    if result is not None:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def _dispatch(cfg: dict[str, Any], args: argparse.Namespace) -> Any:
    command = args.command
    if command == "db":
        with recorded("db"):
            return {"archive": dump_database(cfg)}
    if command == "files":
        with recorded("files" if args.series == "daily" else "files_weekly"):
            return {"archive": backup_files(cfg, args.series)}
    if command == "list":
        return list_archives(_repo_named(cfg, args.repo))
    if command == "restore-db":
        if args.in_place:
            return restore_db_in_place(cfg, args.archive)
        return restore_db_scratch(cfg, _repo_named(cfg, args.repo), args.archive)
    if command == "load-db":
        return load_dump_in_place(cfg)
    if command == "restore-files" and args.in_place:
        return restore_files_in_place(cfg)
    if command == "drill-show":
        return _receipt_at(cfg, Path(args.file))
    if command == "restore-files":
        return restore_files_scratch(cfg, _repo_named(cfg, args.repo), args.archive,
                                     Path(args.target))
    if command == "pitr":
        return point_in_time(cfg, args.time)
    if command == "dump-scratch":
        scratch = scratch_of(cfg)
        subprocess.run(["runuser", "-u", "postgres", "--", "pg_dump", "--format=custom", "-h",
                        scratch.socket, "-p", str(scratch.port), cfg["database"]], check=True)
        return None
    if command == "basebackup":
        with recorded("basebackup"):
            return {"base": base_backup(cfg)}
    if command == "prune":
        with recorded("prune"):
            return {"pruned": prune_repos(cfg)}
    if command == "check":
        with recorded("check"):
            return {"checked": check_repos(cfg)}
    if command == "drill":
        receipt = run_drill(cfg)
        print(json.dumps(receipt, ensure_ascii=False))
        return None if receipt["ok"] else _fail("演练未通过")
    if command == "drill-list":
        return list_receipts(cfg)
    if command == "scratch-stop":
        scratch_of(cfg).stop()
        return {"stopped": True}
    raise BackupError(f"未知命令 {command}")


def _fail(message: str) -> None:
    raise BackupError(message)


if __name__ == "__main__":
    sys.exit(main())
