from __future__ import annotations

from pydantic import BaseModel, Field


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the token expires")


class SmsCodeRequest(BaseModel):
    phone: str = Field(min_length=5, max_length=20, examples=["13800138000"])


class SmsCodeSent(BaseModel):
    sent: bool = True
    resend_after_seconds: int


class SmsLogin(BaseModel):
    phone: str = Field(min_length=5, max_length=20)
    code: str = Field(min_length=4, max_length=8, pattern=r"^\s*\d+\s*$")


class WeChatLogin(BaseModel):
    js_code: str = Field(
        min_length=1, max_length=128, description="From wx.login() in the mini-program"
    )
