"""Who may see the statistics of which departments, and the filters every report takes.

Authorisation (documented in the feature's docstring too):
- `statistics.view` with the role's scope: 本部门 (the default of 普通用户) shows the actor's own
  department, 本部门及下级 its subtree, 全部 every department (grant it to the 办公室's role);
- on top of that, a department leader (正职 or 副职) always sees the subtree they lead;
- 本人 grants no department of its own: such a holder sees only what they lead.
A filter naming a department outside that set is refused (403, audited by the core).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from app.audit.service import local_zone
from app.core.context import RequestContext
from app.core.errors import PermissionDenied, ValidationError
from app.core.forms import Date, Integer, Schema
from app.documents.access import led_departments, scoped_departments
from app.org.service import DepartmentIndex

VIEW = "statistics.view"
MAX_DAYS = 366

FILTER_SCHEMA = Schema(
    Date("since", "开始日期", required=False, help="本地日期（北京时间），含当天；默认本年1月1日"),
    Date("until", "结束日期", required=False, help="本地日期（北京时间），含当天；默认今天"),
    Integer("department", "部门", required=False, minimum=1,
            help="部门编号，统计该部门及其下级部门；不填为您可查看的全部部门"),
)


@dataclass(frozen=True)
class Filters:
    since: dt.date
    until: dt.date
    department_id: int | None
    departments: frozenset[int] | None  # the departments counted; None: every department

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), local_zone())

    @property
    def end(self) -> dt.datetime:
        """Exclusive: the local midnight after `until`."""
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), local_zone())

    def as_details(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "department": self.department_id}


def visible_departments(ctx: RequestContext) -> set[int] | None:
    """The departments whose statistics the actor may see; None means all of them."""
    ctx.require(VIEW)
    scoped = scoped_departments(ctx, VIEW)
    if scoped is None:
        return None
    visible = scoped | led_departments(ctx.principal.user_id)
    if not visible:
        raise PermissionDenied(VIEW, "您没有可查看统计数据的部门")
    return visible


def today() -> dt.date:
    return dt.datetime.now(local_zone()).date()


def parse_filters(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the query string: Chinese messages per field (ValidationError, 400)."""
    data = FILTER_SCHEMA.validate(raw)
    until = data["until"] or today()
    since = data["since"] or until.replace(month=1, day=1)
    if since > until:
        raise ValidationError({"since": "开始日期不能晚于结束日期"})
    if (until - since).days + 1 > MAX_DAYS:
        raise ValidationError({"since": f"统计区间不能超过{MAX_DAYS}天，请缩小日期范围"})
    return {"since": since, "until": until, "department": data["department"]}


def resolve_filters(ctx: RequestContext, data: dict[str, Any],
                    index: DepartmentIndex) -> Filters:
    """Apply the actor's visibility to the parsed filters (inside the unit of work)."""
    allowed = visible_departments(ctx)
    department_id = data["department"]
    if department_id is None:
        departments = None if allowed is None else frozenset(allowed)
    else:
        if department_id not in index.rows:
            raise ValidationError({"department": "所选部门不存在"})
        if allowed is not None and department_id not in allowed:
            raise PermissionDenied(VIEW, "您无权查看该部门的统计数据")
        departments = frozenset(index.subtree(department_id))
    return Filters(data["since"], data["until"], department_id, departments)


def department_options(ctx: RequestContext, index: DepartmentIndex) -> list[dict[str, Any]]:
    """The departments the actor may pick in the filter, in tree order."""
    allowed = visible_departments(ctx)
    return [o for o in index.options(active_only=False) if allowed is None or o["id"] in allowed]
