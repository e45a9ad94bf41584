from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from app.accounts import service as accounts
from app.accounts.models import User
from app.auth.deps import AppSettings, Codec
from app.auth.schemas import SmsCodeRequest, SmsCodeSent, SmsLogin, TokenOut, WeChatLogin
from app.auth.security import issue_access_token
from app.config import Settings
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Unauthorized, Unavailable
from app.integrations.sms import SmsSender
from app.integrations.wechat import WeChatClient

router = APIRouter(prefix="/auth", tags=["auth"], responses=PROBLEM_RESPONSES)

LOCKED_OUT = {
    **PROBLEM_RESPONSES[400],
    "description": "Too many wrong passwords for this username lately (`too_many_login_failures`); "
    "`Retry-After` says when to try again",
}


def _sms_sender(request: Request) -> SmsSender:
    sender: SmsSender | None = request.app.state.sms_sender
    if sender is None:
        raise Unavailable("短信登录未开通 / SMS login is not configured", code="sms_not_configured")
    return sender


def _wechat(request: Request) -> WeChatClient:
    client: WeChatClient | None = request.app.state.wechat_client
    if client is None:
        raise Unavailable(
            "微信登录未开通 / WeChat login is not configured", code="wechat_not_configured"
        )
    return client


def _token_for(user: User, settings: Settings) -> TokenOut:
    token, expires_in = issue_access_token(user.id, settings)
    return TokenOut(access_token=token, expires_in=expires_in)


@router.post("/token", response_model=TokenOut, responses={429: LOCKED_OUT})
def password_login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: DbSession, settings: AppSettings
) -> TokenOut:
    """Sign in with a username and password (admins and every demo account). After
    `DIANDAN_LOGIN_MAX_FAILURES` wrong passwords for a username within
    `DIANDAN_LOGIN_LOCKOUT_MINUTES`, it is refused with 429 until the oldest of them ages out."""
    user = accounts.authenticate_password(
        session=session, settings=settings, username=form.username, password=form.password
    )
    session.commit()  # a wrong password is counted even though sign-in fails
    if user is None:
        raise Unauthorized("用户名或密码错误 / wrong username or password", code="bad_credentials")
    return _token_for(user, settings)


@router.post("/sms-code", response_model=SmsCodeSent)
def send_sms_code(
    body: SmsCodeRequest,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    sender: Annotated[SmsSender, Depends(_sms_sender)],
) -> SmsCodeSent:
    """Send a six-digit sign-in code by SMS. One a minute, five an hour per phone number."""
    accounts.request_sms_code(
        session=session, codec=codec, sender=sender, settings=settings, phone=body.phone
    )
    session.commit()
    return SmsCodeSent(resend_after_seconds=settings.sms_code_resend_seconds)


@router.post("/sms-login", response_model=TokenOut)
def sms_login(body: SmsLogin, session: DbSession, settings: AppSettings, codec: Codec) -> TokenOut:
    """Sign in with the SMS code; a first sign-in creates a resident account for the number."""
    phone = accounts.check_sms_code(
        session=session, codec=codec, settings=settings, phone=body.phone, code=body.code
    )
    if phone is None:
        session.commit()  # keep the counted attempt
        raise Unauthorized("验证码错误或已过期 / the code is wrong or expired", code="bad_sms_code")
    user = accounts.user_for_phone(session=session, codec=codec, phone=phone)
    session.commit()
    return _token_for(user, settings)


@router.post("/wechat", response_model=TokenOut)
def wechat_login(
    body: WeChatLogin,
    session: DbSession,
    settings: AppSettings,
    wechat: Annotated[WeChatClient, Depends(_wechat)],
) -> TokenOut:
    """Sign in from the WeChat mini-program with the `js_code` of `wx.login()`."""
    identity = wechat.code_to_session(body.js_code)
    user = accounts.user_for_wechat(session=session, openid=identity.openid)
    session.commit()
    return _token_for(user, settings)
