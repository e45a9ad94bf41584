"""Orders placed with an API key (`orders:write`): on the integrators' channel, in the key's
region, by the key's account."""

from __future__ import annotations

from app.auth.principal import Principal
from app.errors import Forbidden, Invalid
from app.orders.schemas import Channel, OrderCreate


def order_for_caller(
    caller: Principal, data: OrderCreate, *, key_channel: Channel = Channel.API
) -> OrderCreate:
    """The order as the caller may place it. A key's order takes `key_channel` whatever the body
    says (a key enters no hotline orders for others) and must lie within the key's region; the
    `api` channel is for keys only."""
    if caller.api_key is None:
        if data.channel is Channel.API:
            raise Invalid(
                "api 渠道仅供 API 密钥使用 / the api channel is for API keys only",
                code="channel_reserved",
            )
        return data
    if not caller.admin_scope.covers(data.region_code):
        raise Forbidden(
            "该密钥不能在其区域以外下单 / this key cannot place orders outside its region",
            code="out_of_region",
        )
    return data.model_copy(update={"channel": key_channel})
