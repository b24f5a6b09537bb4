"""A year of the bureau's work, written in bulk into the real tables.

    seed(owner_url, superuser_url, Scale(users=2000, instances=100_000, audit=1_000_000))

What it writes, in this order (each step respects the tables' constraints):

1. 1 000 000 audit events spread over the past year. The chain is computed here with the
   verifier's own canonical form (app.audit.chain.row_hash) and COPYed in with triggers off
   (session_replication_role = replica, superuser only); the chain head is then set to the
   last row, so the rows the application appends afterwards chain on through the real trigger.
   Going through the trigger row by row would update the one-row head a million times in one
   transaction (a HOT chain that every later row walks): hours, not seconds.
2. The demo bureau (the features' own demo loaders), the 公文 approval flow (installed through
   the workflow designer, i.e. published like an administrator would), and staff topped up
   to `users` people across the bureau's departments, each with the 普通用户 role. All seeded
   staff share ONE Argon2id hash of BENCH_PASSWORD (hashing 2000 times would cost minutes and
   prove nothing); the demo's own accounts keep theirs.
3. `instances` 公文 (outgoing_document) each with its workflow instance, node runs, tasks and
   history, started over the past year: the recent ones still running (an open 部门审核 task
   for a colleague, or an open 签发 task for the department's leader), the rest finished and
   numbered. One INSERT .. SELECT per table, from generate_series.

Every step runs as the owner except the audit COPY. Finally ANALYZE.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from app.audit.chain import row_hash
from app.core.db import connect_params

BENCH_PASSWORD = "Bench@2026pass"
USERNAME_PREFIX = "bench"
FLOW_CODE = "bench_fawen"
BUSINESS_TYPE = "document.outgoing"
RUNNING_SHARE = 0.06  # the most recent 6 % of the year's 公文 are still in the flow

FLOW_YAML = f"""
code: {FLOW_CODE}
name: 发文审批
form:
  - {{key: reviewer, label: 审核人, type: users}}
  - {{key: opinion, label: 审批意见, type: textarea}}
nodes:
  - {{key: start, type: start, name: 拟稿}}
  - key: review
    type: task
    name: 部门审核
    handlers: {{kind: form_field, field: reviewer}}
    opinion_field: opinion
    deadline_hours: {{特急: 2, 加急: 8, 普通: 48}}
  - key: sign
    type: task
    name: 签发
    handlers: {{kind: initiator_leader}}
    opinion_field: opinion
    deadline_hours: {{特急: 4, 加急: 24, 普通: 72}}
  - {{key: end, type: end, name: 结束}}
edges:
  - {{from: start, to: review}}
  - {{from: review, to: sign}}
  - {{from: sign, to: end}}
"""

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓"
            "曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌海波宁浩宇晨阳鹏飞辉"
TITLES = ["关于开展{}专项检查的通知", "关于{}工作情况的报告", "关于加强{}管理的意见",
          "关于{}有关事项的请示", "关于印发{}实施方案的通知", "关于{}的通报"]
TOPICS = ["春季安全", "消防安全", "枪支弹药", "执法规范化", "信息安全", "交通秩序", "节日安保",
          "队伍建设", "档案管理", "保密工作", "警务保障", "治安防控", "反诈宣传", "值班备勤"]
AUDIT_ACTIONS = [  # (action, object_type, weight): what a year of staff work leaves
    ("workflow.todo.list", "wf_task", 30), ("workflow.instance.read", "wf_instance", 20),
    ("portal.view", "", 15), ("org.addressbook.search", "app_user", 10),
    ("auth.login.success", "app_user", 8), ("auth.logout", "app_user", 5),
    ("workflow.task.approve", "wf_task", 6), ("documents.outgoing.read", "outgoing_document", 4),
    ("documents.outgoing.create", "outgoing_document", 1), ("auth.login.failure", "", 1),
]


@dataclass(frozen=True)
class Scale:
    users: int = 2000          # people in the bureau in total (demo accounts included)
    instances: int = 100_000   # 公文 with their workflow instances
    audit: int = 1_000_000     # audit events

    def label(self) -> str:
        return f"u{self.users}-i{self.instances}-a{self.audit}"


FULL = Scale()


@dataclass
class SeedReport:
    scale: Scale
    users_added: int = 0
    instances: int = 0
    tasks: int = 0
    history: int = 0
    audit_rows: int = 0
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def _connect(url: str):
    conn = psycopg2.connect(**connect_params(url))
    conn.autocommit = False
    return conn


def _timed(report: SeedReport, name: str, fn: Callable[[], object]) -> object:
    import time

    started = time.monotonic()
    result = fn()
    report.seconds[name] = round(time.monotonic() - started, 1)
    return result


# ---- 1. the audit trail ------------------------------------------------------------------------
def _audit_head(cur) -> tuple[int, str, int, str]:
    cur.execute("SELECT last_id, last_hash, anchor_id, anchor_hash FROM audit_chain")
    row = cur.fetchone()
    if row is not None:
        return row
    # No head row (the tests empty audit_chain): rebuild it as the chain trigger would.
    cur.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")
    last = cur.fetchone()
    cur.execute("SELECT id, prev_hash FROM audit_event ORDER BY id LIMIT 1")
    first = cur.fetchone()
    if last is None:
        return 0, "0" * 64, 0, "0" * 64
    return last[0], last[1], first[0] - 1, first[1]


def _copy_text(value: str | None) -> str:
    if value is None:
        return r"\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed_audit(superuser_url: str, count: int, *, actors: list[tuple[int, str, str]],
               rng: random.Random, batch: int = 100_000) -> int:
    """Append `count` chained events; returns the new last id."""
    conn = _connect(superuser_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # no chain trigger on COPY
            cur.execute("LOCK TABLE audit_chain IN EXCLUSIVE MODE")
            last_id, last_hash, anchor_id, anchor_hash = _audit_head(cur)
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            start = now - dt.timedelta(days=365)
            span = (now - dt.timedelta(hours=1) - start).total_seconds()
            step_us = int(span * 1e6 / max(count, 1))
            actions = [a for a, _, w in AUDIT_ACTIONS for _ in range(w)]
            types = {a: t for a, t, _ in AUDIT_ACTIONS}
            moment = start
            written = 0
            while written < count:
                buffer = io.StringIO()
                for _ in range(min(batch, count - written)):
                    last_id += 1
                    moment += dt.timedelta(microseconds=rng.randint(1, 2 * step_us))
                    action = rng.choice(actions)
                    actor_id, username, name = rng.choice(actors)
                    failed = action == "auth.login.failure"
                    object_id = None if action in {"portal.view", "auth.login.failure"} \
                        else str(rng.randint(1, 100_000))
                    row = {
                        "id": last_id, "occurred_at": moment,
                        "actor_id": None if failed else actor_id,
                        "actor_username": username, "actor_name": "" if failed else name,
                        "ip": f"10.{rng.randint(1, 40)}.{rng.randint(0, 255)}.{rng.randrange(254)}",
                        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
                        "request_id": f"{last_id:016x}", "action": action,
                        "object_type": types[action], "object_id": object_id,
                        "outcome": "failure" if failed else "success",
                        "details": '{"count": 20}' if action.endswith(".list") else "{}",
                        "prev_hash": last_hash,
                    }
                    row["hash"] = last_hash = row_hash(row)
                    buffer.write("\t".join(_copy_text(v) for v in (
                        str(row["id"]), row["occurred_at"].isoformat(),
                        None if row["actor_id"] is None else str(row["actor_id"]),
                        row["actor_username"], row["actor_name"], row["ip"], row["user_agent"],
                        row["request_id"], row["action"], row["object_type"], row["object_id"],
                        row["outcome"], row["details"], row["prev_hash"], row["hash"])) + "\n")
                    written += 1
                buffer.seek(0)
                cur.copy_expert(
                    "COPY audit_event (id, occurred_at, actor_id, actor_username, actor_name, ip,"
                    " user_agent, request_id, action, object_type, object_id, outcome, details,"
                    " prev_hash, hash) FROM STDIN", buffer)
            cur.execute(
                "INSERT INTO audit_chain (singleton, last_id, last_hash, anchor_id, anchor_hash)"
                " VALUES (true, %s, %s, %s, %s) ON CONFLICT (singleton) DO UPDATE"
                " SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash",
                (last_id, last_hash, anchor_id, anchor_hash))
        return last_id
    finally:
        conn.close()


# ---- 2. people --------------------------------------------------------------------------------
def load_demo_and_flow() -> None:
    """The demo bureau and the 公文 flow, through the features' own code (models bound)."""
    from app.core.context import SYSTEM_CONTEXT
    from app.core.db import run_in_transaction
    from app.core.features import ordered
    from app.features import installed_features
    from app.workflow import design
    from app.workflow.models import Definition

    for feature in ordered(installed_features()):
        if feature.demo is not None:
            run_in_transaction(feature.demo)

    def install_flow() -> None:
        if not Definition.select().where(Definition.code == FLOW_CODE).exists():
            design.install(FLOW_YAML, SYSTEM_CONTEXT)

    run_in_transaction(install_flow)


def _people(count: int, start_no: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    from app.org.names import name_pinyin

    people = []
    for number in range(start_no, start_no + count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        pinyin, initials = name_pinyin(name)
        people.append((f"{USERNAME_PREFIX}{number:05d}", f"B{number:05d}", name,
                       f"{pinyin}|{initials}"))
    return people


def seed_users(owner_url: str, total: int, rng: random.Random) -> int:
    """Top the bureau up to `total` active people; returns how many were added."""
    from app.auth.passwords import hash_password

    conn = _connect(owner_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM app_user")
            existing = cur.fetchone()[0]
            missing = max(0, total - existing)
            if missing == 0:
                return 0
            cur.execute("SELECT count(*) FROM app_user WHERE username LIKE %s",
                        (USERNAME_PREFIX + "%",))
            start_no = cur.fetchone()[0] + 1
            cur.execute("SELECT id FROM department WHERE active ORDER BY id")
            departments = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT id FROM position WHERE NOT is_leader ORDER BY rank")
            positions = [r[0] for r in cur.fetchall()] or [None]
            buffer = io.StringIO()
            for username, employee_no, name, pinyin in _people(missing, start_no, rng):
                full, initials = pinyin.split("|")
                phone = f"139{rng.randint(10_000_000, 99_999_999)}"
                buffer.write("\t".join(_copy_text(v) for v in (
                    username, employee_no, name, full, initials,
                    str(rng.choice(departments)),
                    None if positions[0] is None else str(rng.choice(positions)),
                    phone, f"0312-{rng.randint(5_000_000, 5_999_999)}",
                    f"{username}@gaj.example.gov.cn")) + "\n")
            buffer.seek(0)
            cur.copy_expert(
                "COPY app_user (username, employee_no, name, name_pinyin, name_initials,"
                " department_id, position_id, phone, office_phone, email) FROM STDIN", buffer)
            shared_hash = hash_password(BENCH_PASSWORD)
            cur.execute(
                "INSERT INTO credential (user_id, password_hash, changed_at, must_change)"
                " SELECT id, %s, now(), false FROM app_user u WHERE username LIKE %s"
                " AND NOT EXISTS (SELECT 1 FROM credential c WHERE c.user_id = u.id)",
                (shared_hash, USERNAME_PREFIX + "%"))
            cur.execute(
                "INSERT INTO user_role (user_id, role_id, granted_at)"
                " SELECT u.id, r.id, now() FROM app_user u, role r"
                " WHERE r.code = 'staff' AND u.username LIKE %s ON CONFLICT DO NOTHING",
                (USERNAME_PREFIX + "%",))
            # every department has a leader (签发 goes to the initiator's leader)
            cur.execute(
                "UPDATE department d SET leader_id = (SELECT min(u.id) FROM app_user u"
                " WHERE u.department_id = d.id) WHERE d.leader_id IS NULL")
        return missing
    finally:
        conn.close()


# ---- 3. 公文 and their flows -------------------------------------------------------------------
_INSTANCES_SQL = """
CREATE TEMP TABLE seed_staff AS
    SELECT u.department_id AS dept, array_agg(u.id ORDER BY u.id) AS ids
      FROM app_user u JOIN credential c ON c.user_id = u.id
     WHERE u.status = 'active' AND NOT c.must_change
       AND NOT EXISTS (SELECT 1 FROM user_role ur WHERE ur.user_id = u.id
                                                   AND ur.admin_kind IS NOT NULL)
     GROUP BY u.department_id HAVING count(*) >= 2;
CREATE TEMP TABLE seed_dept AS
    SELECT row_number() OVER (ORDER BY s.dept) AS k, s.dept, s.ids, d.leader_id,
           -- a leader does not draft here: the engine sends 签发 to the initiator's leader, and
           -- the top department's leader has none above (approving their 部门审核 then fails)
           array_remove(s.ids, d.leader_id) AS starters,
           coalesce(nullif(r.doc_code, ''), 'X公') AS code
      FROM seed_staff s JOIN department d ON d.id = s.dept
      LEFT JOIN department r ON r.parent_id IS NULL AND r.id = (
          WITH RECURSIVE up AS (SELECT id, parent_id FROM department WHERE id = s.dept
                                UNION ALL SELECT p.id, p.parent_id FROM department p
                                JOIN up ON p.id = up.parent_id)
          SELECT id FROM up WHERE parent_id IS NULL);
CREATE TEMP TABLE seed_inst AS
WITH base AS (
    SELECT g AS n,
           %(now)s::timestamptz - make_interval(secs => (365 * 86400.0) * (%(n)s - g) / %(n)s
                                               + random() * 3600) AS started_at,
           1 + floor(random() * (SELECT count(*) FROM seed_dept))::int AS k,
           random() AS r1, random() AS r2, random() AS r3
      FROM generate_series(1, %(n)s) AS g
), picked AS (
    SELECT b.*, d.dept, d.leader_id, d.code,
           d.starters[1 + floor(b.r1 * cardinality(d.starters))::int] AS initiator,
           d.ids[1 + floor(b.r2 * cardinality(d.ids))::int] AS reviewer0,
           d.ids
      FROM base b JOIN seed_dept d USING (k)
)
SELECT %(inst0)s + n AS id, %(doc0)s + n AS doc_id, %(run0)s + 4 * (n - 1) AS run_base,
       %(task0)s + 3 * (n - 1) AS task_base, n, started_at, dept, code, initiator,
       CASE WHEN reviewer0 <> initiator THEN reviewer0
            ELSE ids[1 + (array_position(ids, initiator) %% cardinality(ids))] END AS reviewer,
       coalesce(leader_id, initiator) AS signer,
       CASE WHEN r3 < 0.05 THEN 2 WHEN r3 < 0.25 THEN 1 ELSE 0 END AS urgency,
       CASE WHEN n <= %(n)s * (1 - %(running)s) THEN 'finished'
            WHEN n %% 3 = 0 THEN 'sign' ELSE 'review' END AS stage,
       (ARRAY%(titles)s)[1 + n %% %(title_count)s] AS title,
       (ARRAY['通知','报告','意见','请示','通报','函'])[1 + n %% 6] AS doc_type,
       extract(year FROM started_at AT TIME ZONE 'Asia/Shanghai')::int AS year
  FROM picked;
ALTER TABLE seed_inst ADD COLUMN t_review timestamptz, ADD COLUMN t_sign timestamptz,
    ADD COLUMN t_end timestamptz;
UPDATE seed_inst SET t_review = started_at + make_interval(mins => 1 + (n %% 600)),
                     t_sign = started_at + make_interval(mins => 700 + (n %% 2000)),
                     t_end = started_at + make_interval(mins => 2800 + (n %% 1500));

INSERT INTO wf_instance (id, definition_id, flow_code, business_type, business_id, title,
        urgency, form, initiator_id, initiator_dept_id, status, current_nodes, started_at,
        finished_at, updated_at)
SELECT i.id, %(definition)s, %(flow)s, %(business)s, i.doc_id::text, i.title, i.urgency,
       jsonb_build_object('reviewer', jsonb_build_array(i.reviewer), 'opinion',
           CASE i.stage
             WHEN 'review' THEN '[]'::jsonb
             WHEN 'sign' THEN jsonb_build_array(jsonb_build_object(
                 'user_id', i.reviewer, 'name', '', 'action', 'approve', 'comment', '同意',
                 'at', i.t_review, 'task_id', i.task_base + 1))
             ELSE jsonb_build_array(
                 jsonb_build_object('user_id', i.reviewer, 'name', '', 'action', 'approve',
                                    'comment', '同意', 'at', i.t_review,
                                    'task_id', i.task_base + 1),
                 jsonb_build_object('user_id', i.signer, 'name', '', 'action', 'approve',
                                    'comment', '同意印发', 'at', i.t_sign,
                                    'task_id', i.task_base + 2)) END),
       i.initiator, i.dept, CASE WHEN i.stage = 'finished' THEN 'finished' ELSE 'running' END,
       CASE i.stage WHEN 'finished' THEN '[]'::jsonb ELSE jsonb_build_array(i.stage) END,
       i.started_at, CASE WHEN i.stage = 'finished' THEN i.t_end END,
       CASE i.stage WHEN 'finished' THEN i.t_end WHEN 'sign' THEN i.t_review
                    ELSE i.started_at END
  FROM seed_inst i;

INSERT INTO wf_node_run (id, instance_id, node_key, node_type, status, prev_node,
        source_task_id, handlers, entered_at, left_at)
SELECT i.run_base, i.id, 'start', 'start', 'done', NULL, NULL, jsonb_build_array(i.initiator),
       i.started_at, i.started_at FROM seed_inst i
UNION ALL
SELECT i.run_base + 1, i.id, 'review', 'task',
       CASE WHEN i.stage = 'review' THEN 'active' ELSE 'done' END, 'start', i.task_base,
       jsonb_build_array(i.reviewer), i.started_at,
       CASE WHEN i.stage <> 'review' THEN i.t_review END FROM seed_inst i
UNION ALL
SELECT i.run_base + 2, i.id, 'sign', 'task',
       CASE WHEN i.stage = 'sign' THEN 'active' ELSE 'done' END, 'review', i.task_base + 1,
       jsonb_build_array(i.signer), i.t_review,
       CASE WHEN i.stage = 'finished' THEN i.t_sign END
  FROM seed_inst i WHERE i.stage <> 'review'
UNION ALL
SELECT i.run_base + 3, i.id, 'end', 'end', 'done', 'sign', i.task_base + 2, '[]'::jsonb,
       i.t_sign, i.t_end FROM seed_inst i WHERE i.stage = 'finished';

INSERT INTO wf_task (id, instance_id, run_id, node_key, node_name, kind, assignee_id, status,
        source_task_id, created_at, due_at, acted_at, action, comment)
SELECT i.task_base, i.id, i.run_base, 'start', '拟稿', 'draft', i.initiator, 'done', NULL,
       i.started_at, NULL, i.started_at, 'submit', '' FROM seed_inst i
UNION ALL
SELECT i.task_base + 1, i.id, i.run_base + 1, 'review', '部门审核', 'approve', i.reviewer,
       CASE WHEN i.stage = 'review' THEN 'open' ELSE 'done' END, i.task_base, i.started_at,
       i.started_at + make_interval(hours => (ARRAY[48, 8, 2])[i.urgency + 1]),
       CASE WHEN i.stage <> 'review' THEN i.t_review END,
       CASE WHEN i.stage <> 'review' THEN 'approve' END,
       CASE WHEN i.stage <> 'review' THEN '同意' ELSE '' END FROM seed_inst i
UNION ALL
SELECT i.task_base + 2, i.id, i.run_base + 2, 'sign', '签发', 'approve', i.signer,
       CASE WHEN i.stage = 'sign' THEN 'open' ELSE 'done' END, i.task_base + 1, i.t_review,
       i.t_review + make_interval(hours => (ARRAY[72, 24, 4])[i.urgency + 1]),
       CASE WHEN i.stage = 'finished' THEN i.t_sign END,
       CASE WHEN i.stage = 'finished' THEN 'approve' END,
       CASE WHEN i.stage = 'finished' THEN '同意印发' ELSE '' END
  FROM seed_inst i WHERE i.stage <> 'review';

INSERT INTO wf_history (instance_id, task_id, node_key, node_name, actor_id, action, comment,
        ip, created_at)
SELECT id, task_id, node_key, node_name, actor_id, action, comment, '10.1.2.3', at FROM (
    SELECT i.id, i.task_base AS task_id, 'start' AS node_key, '拟稿' AS node_name,
           i.initiator AS actor_id, 'submit' AS action, '' AS comment, i.started_at AS at, 0 AS o
      FROM seed_inst i
    UNION ALL
    SELECT i.id, i.task_base + 1, 'review', '部门审核', i.reviewer, 'approve', '同意',
           i.t_review, 1 FROM seed_inst i WHERE i.stage <> 'review'
    UNION ALL
    SELECT i.id, i.task_base + 2, 'sign', '签发', i.signer, 'approve', '同意印发', i.t_sign, 2
      FROM seed_inst i WHERE i.stage = 'finished'
    UNION ALL
    SELECT i.id, NULL, '', '', i.signer, 'finish', '', i.t_end, 3
      FROM seed_inst i WHERE i.stage = 'finished'
) h ORDER BY id, o;

CREATE TEMP TABLE seed_number AS
    SELECT id, code, year, row_number() OVER (PARTITION BY code, year ORDER BY n) AS seq
      FROM seed_inst WHERE stage = 'finished';

INSERT INTO outgoing_document (id, status, workflow_instance_id, doc_number, number_code,
        number_year, number_seq, numbered_at, serial_no, urgency, title, main_to,
        main_to_copies, doc_type, signer_id, signer_name, signed_at, issued_on,
        drafting_department_id, drafter_id, created_at, updated_at)
SELECT i.doc_id, CASE WHEN i.stage = 'finished' THEN 'distributed' ELSE 'in_flow' END, i.id,
       CASE WHEN s.seq IS NOT NULL THEN format('%%s发〔%%s〕%%s号', s.code, s.year, s.seq) END,
       s.code, s.year, s.seq, CASE WHEN s.seq IS NOT NULL THEN i.t_sign END,
       format('BENCH-%%s-%%s', i.year, i.n),
       (ARRAY['普通', '加急', '特急'])[i.urgency + 1], i.title, '各分局、各支队', 12,
       i.doc_type, CASE WHEN s.seq IS NOT NULL THEN i.signer END,
       CASE WHEN s.seq IS NOT NULL THEN coalesce(u.name, '') ELSE '' END,
       CASE WHEN s.seq IS NOT NULL THEN i.t_sign END,
       CASE WHEN s.seq IS NOT NULL THEN (i.t_sign AT TIME ZONE 'Asia/Shanghai')::date END,
       i.dept, i.initiator, i.started_at, coalesce(i.t_end, i.started_at)
  FROM seed_inst i LEFT JOIN seed_number s ON s.id = i.id
  LEFT JOIN app_user u ON u.id = i.signer;

INSERT INTO doc_counter (kind, code, year, last_value)
SELECT 'outgoing', code, year, max(seq) FROM seed_number GROUP BY code, year
ON CONFLICT (kind, code, year) DO UPDATE
    SET last_value = greatest(doc_counter.last_value, EXCLUDED.last_value);

SELECT setval('wf_instance_id_seq', (SELECT max(id) FROM wf_instance));
SELECT setval('wf_node_run_id_seq', (SELECT max(id) FROM wf_node_run));
SELECT setval('wf_task_id_seq', (SELECT max(id) FROM wf_task));
SELECT setval('outgoing_document_id_seq', (SELECT max(id) FROM outgoing_document));
"""


def seed_instances(owner_url: str, count: int) -> dict[str, int]:
    conn = _connect(owner_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM wf_definition WHERE code = %s AND status = 'published'"
                        " ORDER BY version DESC LIMIT 1", (FLOW_CODE,))
            definition = cur.fetchone()[0]
            bases = {}
            for key, table in (("inst0", "wf_instance"), ("doc0", "outgoing_document"),
                               ("run0", "wf_node_run"), ("task0", "wf_task")):
                cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
                bases[key] = cur.fetchone()[0] + (1 if key in {"run0", "task0"} else 0)
            titles = [t.format(topic) for t in TITLES for topic in TOPICS]
            params = {**bases, "n": count, "running": RUNNING_SHARE,
                      "now": dt.datetime.now(dt.UTC), "definition": definition,
                      "flow": FLOW_CODE, "business": BUSINESS_TYPE,
                      "title_count": len(titles)}
            sql = _INSTANCES_SQL.replace("%(titles)s", json.dumps(titles, ensure_ascii=False)
                                         .replace('"', "'"))
            cur.execute(sql, params)
            counts = {}
            for table in ("wf_instance", "wf_task", "wf_history", "outgoing_document"):
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
        return counts
    finally:
        conn.close()


def _actors(owner_url: str) -> list[tuple[int, str, str]]:
    conn = _connect(owner_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id, username, name FROM app_user ORDER BY id")
            return cur.fetchall()
    finally:
        conn.close()


def seed(owner_url: str, superuser_url: str, scale: Scale, *, rng_seed: int = 7,
         log: Callable[[str], None] = print) -> SeedReport:
    """Seed a migrated, empty database. The models must be bound to `owner_url`
    (app.core.db.init_database) for the demo and flow step."""
    rng = random.Random(rng_seed)
    report = SeedReport(scale)
    log("载入演示机构与公文流程…")
    _timed(report, "demo_and_flow", load_demo_and_flow)
    log(f"补足人员至 {scale.users} 人…")
    report.users_added = _timed(report, "users", lambda: seed_users(owner_url, scale.users, rng))
    log(f"写入 {scale.instances} 件公文及其流程…")
    counts = _timed(report, "instances", lambda: seed_instances(owner_url, scale.instances))
    report.instances, report.tasks = counts["wf_instance"], counts["wf_task"]
    report.history = counts["wf_history"]
    log(f"写入 {scale.audit} 条审计记录（哈希链）…")
    actors = _actors(owner_url)
    _timed(report, "audit", lambda: seed_audit(superuser_url, scale.audit, actors=actors,
                                               rng=rng))
    report.audit_rows = scale.audit

    def analyze() -> None:
        conn = psycopg2.connect(**connect_params(superuser_url))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        conn.close()

    _timed(report, "analyze", analyze)
    return report


def source_checksum(features_dirs: list[Path]) -> str:
    """What the seeded template depends on: every migration file and this module."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for folder in sorted(features_dirs):
        for path in sorted(folder.glob("migrations/*.sql")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
