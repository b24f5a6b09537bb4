"""统计分析: the fixed statistics reports over 公文 and their workflows (issue 7).

Reports: 公文统计, 办理时效, 待办积压, 工作量 (see service.py for the exact definitions), each a
page with filters, tables and server-rendered SVG charts, and an XLSX export. 督办 statistics
come with the 督办 feature, which does not exist yet.

Who sees what (scope.py): `statistics.view` at the role's scope (普通用户: 本部门; grant 全部 to
the 办公室's role), plus the subtree every leader (正职 or 副职) leads. Every view and export is
audited (statistics.view / statistics.export with the filters); every query runs in a unit of
work on the database thread pool.
"""

from pathlib import Path

from app.core.features import Duty, Feature, NavItem, Permission
from app.statistics import handlers
from app.statistics.scope import VIEW

_REPORT = r"(?P<key>[a-z]{1,20})"

feature = Feature(
    name="statistics",
    title="统计分析",
    package_dir=Path(__file__).resolve().parent,
    depends=("org", "audit", "workflow", "documents"),
    routes=[
        (r"/statistics", handlers.IndexHandler),
        (r"/statistics/" + _REPORT + r"\.xlsx", handlers.ExportHandler),
        (r"/statistics/" + _REPORT, handlers.ReportHandler),
        (r"/api/statistics/" + _REPORT, handlers.ReportApiHandler),
    ],
    permissions=[Permission(VIEW, "查看和导出统计报表", Duty.BUSINESS)],
    nav=[NavItem("统计分析", "/statistics", permission=VIEW, order=70)],
)
