"""系统通知: each user's notifications, the nav badge, and the 系统告警 portal widget.

Monitoring alerts arrive from Alertmanager at /api/alerts/alertmanager and become
notifications for the 系统管理员 and 安全管理员; a post the database cannot take (it is
down: the alert says so) waits on disk and is applied when it answers (spool.py). The widget
is declared twice, once behind each administrator's own permission, because a widget takes
one permission and 三员分立 gives those two roles no permission in common; each
administrator sees exactly one of them.
"""

from pathlib import Path

from app.core.features import Duty, Feature, NavItem, Permission, Widget
from app.notifications import handlers, service, spool

ALERTS_SYSTEM = "notifications.alerts.system"
ALERTS_SECURITY = "notifications.alerts.security"


def _alerts_widget(key: str, permission: str) -> Widget:
    return Widget(key=key, title="系统告警", template="notifications/widget_alerts.html",
                  load=service.load_alerts_widget, permission=permission,
                  more_url="/notifications")


feature = Feature(
    name="notifications",
    title="系统通知",
    package_dir=Path(__file__).resolve().parent,
    depends=("auth", "audit"),
    routes=[
        (r"/notifications", handlers.NotificationListHandler),
        (r"/notifications/read-all", handlers.NotificationReadAllHandler),
        (r"/notifications/(?P<notification_id>\d{1,18})/read", handlers.NotificationReadHandler),
        (r"/api/notifications", handlers.NotificationsApiHandler),
        (r"/api/notifications/unread-count", handlers.UnreadCountApiHandler),
        (r"/api/alerts/alertmanager", handlers.AlertmanagerWebhookHandler),
    ],
    permissions=[
        Permission(ALERTS_SYSTEM, "查看系统告警（系统管理员）", Duty.SYSTEM),
        Permission(ALERTS_SECURITY, "查看系统告警（安全管理员）", Duty.SECURITY),
    ],
    nav=[NavItem("通知", "/notifications", order=95, badge=service.unread_count,
                 badge_url="/api/notifications/unread-count")],
    widgets=[_alerts_widget("alerts_system", ALERTS_SYSTEM),
             _alerts_widget("alerts_security", ALERTS_SECURITY)],
    on_start=spool.schedule_replay,
)
