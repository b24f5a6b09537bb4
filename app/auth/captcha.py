"""Image captcha: the answer never leaves the server.

The browser gets a random token in a cookie and the image; the table keeps a hash of the token
and a hash of the answer. A challenge is single-use: checking it consumes it, right or wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from captcha.image import ImageCaptcha

from app.auth.models import CaptchaChallenge
from app.auth.sessions import now, token_hash

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
LENGTH = 4
LIFETIME = dt.timedelta(minutes=5)
COOKIE = "oa_captcha"


def new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def render_png(answer: str) -> bytes:
    """CPU work: call through run_blocking."""
    return ImageCaptcha(width=160, height=60).generate(answer).getvalue()


def answer_hash(token: str, answer: str) -> str:
    normalised = answer.strip().upper()
    return hashlib.sha256(f"{token}:{normalised}".encode()).hexdigest()


def store_challenge(token: str, answer: str) -> None:
    moment = now()
    CaptchaChallenge.delete().where(CaptchaChallenge.expires_at < moment - LIFETIME).execute()
    CaptchaChallenge.create(token_hash=token_hash(token), answer_hash=answer_hash(token, answer),
                            created_at=moment, expires_at=moment + LIFETIME)


def consume(token: str | None, answer: str | None) -> bool:
    """True when `answer` solves the challenge behind `token`; the challenge is used up."""
    if not token or not answer:
        if token:
            _use(token)
        return False
    stored = _use(token)
    return stored is not None and secrets.compare_digest(stored, answer_hash(token, answer))


def _use(token: str) -> str | None:
    rows = (CaptchaChallenge.update(used_at=now())
            .where(CaptchaChallenge.token_hash == token_hash(token),
                   CaptchaChallenge.used_at.is_null(), CaptchaChallenge.expires_at > now())
            .returning(CaptchaChallenge.answer_hash).execute())
    found = list(rows)
    return found[0].answer_hash if found else None
