"""Sign-in, sign-out and the user's own security settings (个人设置)."""

from __future__ import annotations

from app.auth import captcha, flows, mfa, service, sessions
from app.auth.captcha import COOKIE as CAPTCHA_COOKIE
from app.core.config import settings
from app.core.db import run_blocking
from app.core.errors import ValidationError
from app.core.forms import Password, Schema, Text
from app.core.web import SESSION_COOKIE, BaseHandler

MFA_COOKIE = "oa_mfa"  # the half-signed-in session between password and TOTP

LOGIN_FORM = Schema(
    Text("username", "用户名", max_length=64),
    Password("password", "密码"),
    Text("captcha", "验证码", required=False, max_length=10),
)
CODE_FORM = Schema(Text("code", "动态口令", max_length=40))
PASSWORD_FORM = Schema(
    Password("old_password", "当前密码"),
    Password("new_password", "新密码"),
    Password("confirm_password", "确认新密码"),
)


def safe_next(raw: str | None) -> str:
    """Only a path on this site: no scheme, no host, no `//` or `/\\` tricks."""
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")):
        return "/"
    if any(ch in raw for ch in "\r\n\t\\"):
        return "/"
    return raw


class AuthPage(BaseHandler):
    def form_errors(self, error: ValidationError) -> dict[str, str]:
        return error.fields or {"": error.message}


class LoginHandler(AuthPage):
    public = True
    allow_pending = True

    async def get(self) -> None:
        if self.principal is not None:
            self.redirect(safe_next(self.get_argument("next", None)))
            return
        needed = await self.run(service.captcha_needed_for_client, self.ip)
        self.show(captcha_required=needed)

    def show(self, *, username: str = "", errors: dict[str, str] | None = None,
             captcha_required: bool = False, status: int = 200) -> None:
        self.set_status(status)
        self.render("auth/login.html", page_title="登录", username=username,
                    errors=errors or {}, captcha_required=captcha_required,
                    next_url=safe_next(self.get_argument("next", None)))

    async def post(self) -> None:
        try:
            data = self.parse(LOGIN_FORM)
        except ValidationError as error:
            needed = await self.run(service.captcha_needed_for_client, self.ip)
            self.show(username=str(self.get_argument("username", ""))[:64],
                      errors=error.fields, captcha_required=needed, status=400)
            return
        result = await flows.login(self.ctx, data["username"], data["password"],
                                   self.get_cookie(CAPTCHA_COOKIE), data["captcha"])
        self.clear_cookie(CAPTCHA_COOKIE, path="/login")
        if not result.ok:
            self.show(username=data["username"], errors={result.error_field: result.message},
                      captcha_required=True, status=400)
            return
        next_url = safe_next(self.get_argument("next", None))
        if result.needs_totp:
            self.set_cookie(MFA_COOKIE, result.token or "", httponly=True, samesite="Lax",
                            secure=settings().secure_cookies,
                            path="/login")
            self.redirect("/login/totp?next=" + self.url_quote(next_url))
            return
        self.set_session_cookie(result.token or "")
        self.redirect(next_url)

    @staticmethod
    def url_quote(value: str) -> str:
        from urllib.parse import quote

        return quote(value, safe="/")


class LoginTotpHandler(AuthPage):
    public = True
    allow_pending = True

    async def get(self) -> None:
        if not await self.run(service.mfa_pending, self.get_cookie(MFA_COOKIE)):
            self.redirect("/login")
            return
        self.show()

    def show(self, errors: dict[str, str] | None = None, status: int = 200) -> None:
        self.set_status(status)
        self.render("auth/login_totp.html", page_title="动态口令验证", errors=errors or {},
                    next_url=safe_next(self.get_argument("next", None)))

    async def post(self) -> None:
        try:
            data = self.parse(CODE_FORM)
        except ValidationError as error:
            self.show(error.fields, status=400)
            return
        result = await self.run(service.finish_totp_login, self.ctx,
                                self.get_cookie(MFA_COOKIE), data["code"])
        if result.restart:
            self.clear_cookie(MFA_COOKIE, path="/login")
            self.redirect("/login")
            return
        if not result.ok:
            self.show({"code": result.message}, status=400)
            return
        self.clear_cookie(MFA_COOKIE, path="/login")
        self.set_session_cookie(result.token or "")
        self.redirect(safe_next(self.get_argument("next", None)))


class CaptchaHandler(BaseHandler):
    public = True
    allow_pending = True
    shows_menu = False

    async def get(self) -> None:
        token = sessions.new_token()
        answer = captcha.new_answer()
        png = await run_blocking(captcha.render_png, answer)
        await self.run(captcha.store_challenge, token, answer)
        self.set_cookie(CAPTCHA_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                        secure=settings().secure_cookies)
        self.set_header("Content-Type", "image/png")
        self.finish(png)


class LogoutHandler(BaseHandler):
    public = True
    allow_pending = True

    async def post(self) -> None:
        token = self.get_cookie(SESSION_COOKIE)
        if token:
            await self.run(sessions.logout, self.ctx, token)
        self.clear_session_cookie()
        self.redirect("/login")


class AccountHandler(AuthPage):
    async def get(self) -> None:
        enrolled, recovery_left = await self.run(mfa.status, self.ctx)
        self.render("auth/account.html", page_title="个人设置", enrolled=enrolled,
                    recovery_left=recovery_left)


class PasswordHandler(AuthPage):
    allow_pending = True

    def get(self) -> None:
        self.show()

    def show(self, errors: dict[str, str] | None = None, status: int = 200) -> None:
        self.set_status(status)
        forced = self.principal is not None and self.principal.pending_url == \
            sessions.PASSWORD_URL
        self.render("auth/password.html", page_title="修改密码", errors=errors or {},
                    forced=forced, policy=password_policy_text())

    async def post(self) -> None:
        forced = self.principal is not None and self.principal.pending_url is not None
        try:
            data = self.parse(PASSWORD_FORM)
            await flows.change_password(self.ctx, data["old_password"], data["new_password"],
                                        data["confirm_password"])
        except ValidationError as error:
            self.show(self.form_errors(error), status=400)
            return
        # after a forced change, on to the desktop (or the next required step)
        self.redirect("/" if forced else "/account?changed=password")


def password_policy_text() -> str:
    cfg = settings()
    return (f"至少 {cfg.password_min_length} 个字符，包含大写字母、小写字母、数字、符号中的至少 "
            f"{cfg.password_min_classes} 类，不能包含用户名，不能与最近 {cfg.password_history} "
            f"次使用过的密码相同；每 {cfg.password_max_age_days} 天须更换一次。")


class TotpHandler(AuthPage):
    allow_pending = True

    async def get(self) -> None:
        await self.show()

    async def show(self, errors: dict[str, str] | None = None, status: int = 200,
                   codes: list[str] | None = None) -> None:
        secret, uri, enrolled = await self.run(mfa.enrolment_secret, self.ctx)
        qr = await run_blocking(mfa.qr_data_uri, uri) if uri and codes is None else ""
        forced = self.principal is not None and self.principal.pending_url == sessions.TOTP_URL
        self.set_status(status)
        self.render("auth/totp.html", page_title="动态口令", secret=secret, qr=qr,
                    enrolled=enrolled, errors=errors or {}, codes=codes, forced=forced)

    async def post(self) -> None:
        action = self.get_argument("action", "enrol")
        try:
            data = self.parse(CODE_FORM)
            if action == "recovery":
                codes = await self.run(mfa.regenerate_recovery_codes, self.ctx, data["code"])
            else:
                codes = await self.run(mfa.confirm_enrolment, self.ctx, data["code"])
        except ValidationError as error:
            await self.show(self.form_errors(error), status=400)
            return
        await self.show(codes=codes)


class MySessionsHandler(AuthPage):
    async def get(self) -> None:
        rows = await self.run(sessions.my_sessions, self.ctx)
        self.render("auth/sessions.html", page_title="我的会话", sessions=rows, admin=False,
                    query="")


class EndMySessionHandler(AuthPage):
    async def post(self, session_id: str) -> None:
        await self.run(sessions.end_session, self.ctx, int(session_id))
        self.redirect("/account/sessions")
