"""Profile one service call in-process with pyinstrument: where a page's time goes, as a tree.

    python -m bench.callprofile portal      # the portal's widgets (todo, my approvals, ...)
    python -m bench.callprofile todo        # service.todo_list
    python -m bench.callprofile task        # service.task_view (the task page)

Runs on a fresh copy of the seeded template as a seeded member of staff, calls the function
`--repeat` times (each its own transaction, as the web layer does) under pyinstrument, and
prints the call tree. Complements bench.profile (py-spy on the live server under load).
"""

from __future__ import annotations

import argparse

from pyinstrument import Profiler

from bench.run import RUN_DB, cluster, ensure_template, fresh_copy
from bench.seed import FULL


def _context(user_id: int):
    from app.auth.roles import user_permissions
    from app.core.context import Principal, RequestContext
    from app.org.models import User

    user = User.get_by_id(user_id)
    permissions, admin, _ = user_permissions(user.id)
    return RequestContext(principal=Principal(
        user_id=user.id, username=user.username, name=user.name,
        department_id=user.department_id, session_id="profile", permissions=permissions,
        admin_role=admin, clearance=user.clearance), ip="127.0.0.1", request_id="profile")


def _calls(which: str, ctx):
    from app.workflow import service
    from app.workflow.models import Task

    if which == "todo":
        return lambda: service.todo_list(ctx, {})
    if which == "task":
        task = Task.get((Task.assignee_id == ctx.user_id) & (Task.status == "open"))
        return lambda: service.task_view(ctx, task.id)

    from app.features import installed_features

    widgets = [w for f in installed_features() for w in f.widgets
               if w.permission is None or ctx.principal.can(w.permission)]
    return lambda: [w.load(ctx) for w in widgets]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", choices=["portal", "todo", "task"])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    from app.core.db import close_database, init_database, run_in_transaction

    pg = cluster()
    pg.ensure()
    template, _ = ensure_template(pg, FULL)
    fresh_copy(pg, template)
    init_database(pg.url("oa_app", RUN_DB), 2, 1)
    try:
        user_id = int(pg.psql(
            "SELECT t.assignee_id FROM wf_task t JOIN app_user u ON u.id = t.assignee_id"
            " WHERE t.status = 'open' AND u.username LIKE 'bench%' LIMIT 1", database=RUN_DB))
        ctx = run_in_transaction(_context, user_id)
        call = run_in_transaction(_calls, args.page, ctx)
        run_in_transaction(call)  # warm up
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.repeat):
            run_in_transaction(call)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    finally:
        close_database()
        pg.drop_database(RUN_DB)
        pg.stop()


if __name__ == "__main__":
    main()
