"""Second factor: TOTP (RFC 6238, 30-second steps, 6 digits) and one-time recovery codes.

A code is accepted for the current step or one step either side (clock drift), and only if its
step is later than the last step used: the same code never works twice. Recovery codes are
80-bit random strings, so a SHA-256 of each is enough to store them (like session ids).
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import time

import pyotp
import qrcode
from qrcode.image.pil import PilImage

from app.auth.events import audit
from app.auth.models import RecoveryCode, Totp
from app.auth.sessions import now
from app.core.config import settings
from app.core.context import RequestContext
from app.core.errors import Conflict, PermissionDenied, ValidationError
from app.org.models import User

RECOVERY_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // 30)


def matching_step(secret: str, code: str, last_used_step: int) -> int | None:
    """The time step `code` belongs to (within ±1 step), if it is later than the last used."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = _step()
    for step in (current - 1, current, current + 1):
        if step > last_used_step and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=settings().totp_issuer)


def qr_data_uri(uri: str) -> str:
    """CPU work (call through run_blocking): the QR code as a PNG data: URI."""
    image = qrcode.make(uri, image_factory=PilImage, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def recovery_hash(code: str) -> str:
    normalised = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


# ---- enrolment --------------------------------------------------------------------------------
def enrolment_secret(ctx: RequestContext) -> tuple[str, str, bool]:
    """(secret, provisioning URI, already enrolled) for the signed-in user; makes a pending
    secret on first visit (shown until confirmed)."""
    user = _me(ctx)
    row = Totp.get_or_none(Totp.user == user.id)
    if row is not None and row.enrolled_at is not None:
        return "", "", True
    if row is None:
        row = Totp.create(user=user.id, secret=pyotp.random_base32(), last_used_step=0)
    return row.secret, provisioning_uri(row.secret, user.username), False


def confirm_enrolment(ctx: RequestContext, code: str) -> list[str]:
    """Bind TOTP after a correct code; returns the recovery codes (shown once)."""
    user = _me(ctx)
    row = Totp.select().where(Totp.user == user.id).for_update().first()
    if row is None:
        raise ValidationError({"code": "请刷新页面后重新扫描二维码"})
    if row.enrolled_at is not None:
        raise Conflict("已绑定动态口令")
    step = matching_step(row.secret, code, row.last_used_step)
    if step is None:
        raise ValidationError({"code": "动态口令不正确，请核对手机时间后重试"})
    Totp.update(enrolled_at=now(), last_used_step=step).where(Totp.user == user.id).execute()
    codes = replace_recovery_codes(user.id)
    audit(ctx, "auth.totp.enrol", object_type="user", object_id=user.id)
    return codes


def replace_recovery_codes(user_id: int) -> list[str]:
    RecoveryCode.delete().where(RecoveryCode.user == user_id).execute()
    codes = [_new_recovery_code() for _ in range(RECOVERY_COUNT)]
    moment = now()
    RecoveryCode.insert_many([{"user": user_id, "code_hash": recovery_hash(c),
                               "created_at": moment} for c in codes]).execute()
    return codes


def regenerate_recovery_codes(ctx: RequestContext, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a fresh TOTP code."""
    user = _me(ctx)
    if not verify_second_factor(user.id, code, allow_recovery=False):
        raise ValidationError({"code": "动态口令不正确"})
    codes = replace_recovery_codes(user.id)
    audit(ctx, "auth.recovery.regenerate", object_type="user", object_id=user.id)
    return codes


def status(ctx: RequestContext) -> tuple[bool, int]:
    """(enrolled, unused recovery codes) of the signed-in user."""
    user = _me(ctx)
    enrolled = Totp.select().where(Totp.user == user.id, Totp.enrolled_at.is_null(False)).exists()
    left = RecoveryCode.select().where(RecoveryCode.user == user.id,
                                       RecoveryCode.used_at.is_null()).count()
    return enrolled, left


# ---- verification -----------------------------------------------------------------------------
def verify_second_factor(user_id: int, code: str, allow_recovery: bool = True) -> str | None:
    """'totp' or 'recovery' when `code` is a valid, unused factor (and uses it up), else None."""
    row = Totp.select().where(Totp.user == user_id, Totp.enrolled_at.is_null(False)
                              ).for_update().first()
    if row is None:
        return None
    step = matching_step(row.secret, code, row.last_used_step)
    if step is not None:
        Totp.update(last_used_step=step).where(Totp.user == user_id).execute()
        return "totp"
    if allow_recovery and len(code.strip()) >= 16:
        used = (RecoveryCode.update(used_at=now())
                .where(RecoveryCode.user == user_id, RecoveryCode.used_at.is_null(),
                       RecoveryCode.code_hash == recovery_hash(code)).execute())
        if used:
            return "recovery"
    return None


def has_totp(user_id: int) -> bool:
    return Totp.select().where(Totp.user == user_id, Totp.enrolled_at.is_null(False)).exists()


def _me(ctx: RequestContext) -> User:
    if ctx.principal is None:
        raise PermissionDenied()
    return User.get_by_id(ctx.principal.user_id)
