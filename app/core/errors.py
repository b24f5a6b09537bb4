"""Domain errors that services raise; the web layer turns them into Chinese 4xx responses."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    default_message = "请求无法处理"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class ValidationError(DomainError):
    """Input was wrong; `fields` maps a field name to its Chinese message."""

    status = 400
    default_message = "提交的内容有误，请检查标出的字段"

    def __init__(self, fields: dict[str, str] | None = None, message: str | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class NotFound(DomainError):
    status = 404
    default_message = "您要找的内容不存在或已被删除"


class PermissionDenied(DomainError):
    status = 403
    default_message = "您没有权限执行此操作"

    def __init__(self, permission: str | None = None, message: str | None = None) -> None:
        super().__init__(message)
        self.permission = permission


class Conflict(DomainError):
    status = 409
    default_message = "数据已被他人修改，请刷新后重试"


class NotAuthenticated(DomainError):
    status = 401
    default_message = "请先登录"
