"""The steps that need Argon2 between two units of work (login, password change, reset).

Argon2 is slow on purpose, so it runs through `run_blocking`, between short transactions,
never inside one and never on the IOLoop.
"""

from __future__ import annotations

from app.auth import passwords, service
from app.core.context import RequestContext
from app.core.db import run_blocking, unit_of_work
from app.core.errors import ValidationError


async def login(ctx: RequestContext, username: str, password: str, captcha_token: str | None,
                captcha_answer: str | None) -> service.LoginResult:
    attempt = await unit_of_work(service.prepare_login, ctx, username, captcha_token,
                                 captcha_answer)
    if attempt.error:
        return service.LoginResult(message=attempt.error, error_field=attempt.error_field,
                                   captcha_required=True)
    ok = await run_blocking(passwords.verify_password, attempt.password_hash, password)
    return await unit_of_work(service.finish_login, ctx, attempt, ok)


def _check_new_password(material: service.PasswordMaterial, old: str | None,
                        new: str, confirm: str) -> str:
    """Blocking (Argon2): every rule; returns the new hash or raises ValidationError."""
    errors: dict[str, str] = {}
    if old is not None and not passwords.verify_password(material.current_hash, old):
        errors["old_password"] = "当前密码不正确"
    problem = passwords.policy_problem(new, material.username)
    if problem:
        errors["new_password"] = problem
    elif passwords.matches_any(material.recent_hashes, new):
        errors["new_password"] = "新密码不能与最近使用过的密码相同"
    if new != confirm:
        errors["confirm_password"] = "两次输入的新密码不一致"
    if errors:
        raise ValidationError(errors)
    return passwords.hash_password(new)


async def change_password(ctx: RequestContext, old: str, new: str, confirm: str) -> None:
    material = await unit_of_work(service.my_password_material, ctx)
    try:
        new_hash = await run_blocking(_check_new_password, material, old, new, confirm)
    except ValidationError as error:
        if "old_password" in error.fields:
            await unit_of_work(service.audit_password_change_refused, ctx, "wrong_old_password")
        raise
    await unit_of_work(service.change_own_password, ctx, material.current_hash, new_hash)


async def reset_password(ctx: RequestContext, user_id: int) -> str:
    """An administrator's reset: a random one-time password the user must change."""
    await unit_of_work(service.check_reset_allowed, ctx, user_id)
    new_password = passwords.generate_password()
    new_hash = await run_blocking(passwords.hash_password, new_password)
    await unit_of_work(service.reset_password, ctx, user_id, new_hash)
    return new_password
