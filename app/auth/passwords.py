"""Password hashing (Argon2id) and the password policy.

Hashing and verifying are CPU-heavy on purpose: web code calls them through
`app.core.db.run_blocking`, never on the IOLoop. The policy's thresholds come from settings.
"""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import settings

# argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4), Argon2id.
_hasher = PasswordHasher(type=Type.ID)
# Verified against when the account does not exist, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

_CLASSES = (
    ("小写字母", str.islower),
    ("大写字母", str.isupper),
    ("数字", str.isdigit),
    ("符号", lambda ch: not ch.isalnum()),
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown account verifies against a dummy hash."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def matches_any(hashes: list[str], password: str) -> bool:
    return any(verify_password(h, password) for h in hashes)


def policy_problem(password: str, username: str) -> str | None:
    """The first rule `password` breaks, as a Chinese sentence, or None (history aside)."""
    cfg = settings()
    if len(password) < cfg.password_min_length:
        return f"密码至少需要{cfg.password_min_length}个字符"
    present = sum(1 for _, test in _CLASSES if any(test(ch) for ch in password))
    if present < cfg.password_min_classes:
        return (f"密码须包含大写字母、小写字母、数字、符号中的至少{cfg.password_min_classes}类")
    if username and username.lower() in password.lower():
        return "密码不能包含用户名"
    if any(ch.isspace() for ch in password):
        return "密码不能包含空格等空白字符"
    return None


def generate_password() -> str:
    """A random initial password that satisfies the policy (shown once to an administrator)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        core = "".join(secrets.choice(alphabet) for _ in range(12))
        candidate = core[:6] + secrets.choice("@#%+=") + core[6:]
        if (any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
                and any(c.isdigit() for c in candidate)):
            return candidate
