"""Demo set-up of 公文: the 监印人 role (doc_seal) used by the 发文 flow's 用印 node, given to
the 办公室's 周晓燕 (010105) of the demo bureau. Idempotent; runs in the demo transaction."""

from __future__ import annotations

import datetime as dt

from app.auth.models import Role, UserRole
from app.org.models import User

SEAL_ROLE = "doc_seal"
SEAL_KEEPER = "010105"


def load() -> None:
    stamp = dt.datetime.now(dt.UTC)
    Role.insert(code=SEAL_ROLE, name="监印人", description="发文流程“用印”环节的办理人",
                built_in=False, admin_kind=None, created_at=stamp,
                updated_at=stamp).on_conflict_ignore().execute()
    role = Role.get(Role.code == SEAL_ROLE)
    keeper = User.get_or_none(User.employee_no == SEAL_KEEPER)
    if keeper is not None:
        UserRole.insert(user=keeper.id, role=role.id, granted_at=stamp
                        ).on_conflict_ignore().execute()
