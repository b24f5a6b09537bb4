"""工作门户: the personal work desktop with its widgets."""

from pathlib import Path

from app.core.features import Feature, NavItem, Widget
from app.portal import handlers, service

feature = Feature(
    name="portal",
    title="工作门户",
    package_dir=Path(__file__).resolve().parent,
    depends=("auth",),
    routes=[
        (r"/", handlers.DesktopHandler),
        (r"/portal/customize", handlers.CustomizeHandler),
        (r"/api/portal/layout", handlers.LayoutApiHandler),
    ],
    nav=[NavItem("工作台", "/", order=0)],
    widgets=[
        Widget(key="profile", title="我的信息", template="portal/widgets/profile.html",
               load=service.load_profile, more_url="/account"),
        Widget(key="shortcuts", title="常用入口", template="portal/widgets/shortcuts.html",
               load=service.load_shortcuts),
    ],
)
