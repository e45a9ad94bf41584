"""Delivering one outbox message: WeChat subscribe message, SMS, or the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.accounts.models import User
from app.accounts.service import PHONE_CONTEXT
from app.common.crypto import SensitiveCodec
from app.config import WeChatTemplate
from app.integrations.sms import HttpSmsNotifier
from app.integrations.wechat import WeChatSubscribeSender
from app.notifications.models import OutboxMessage

log = logging.getLogger(__name__)
WECHAT_VALUE_MAX = 20

# What a resident or leader reads, per topic (Chinese for people, the topic for machines).
TOPIC_TEXT = {
    "order.status_changed": "您的服务订单状态已更新",
    "order.review_needed": "有新的点单待审核",
    "order.unassigned": "有订单无人接单,请重新派单",
    "order.overdue": "有订单已超时,请尽快处理",
    "offer.created": "您的服务队收到新的派单",
    "offer.withdrawn": "派单已被其他队伍接单或撤回",
    "complaint.filed": "有新的投诉待处理",
    "complaint.resolved": "您的投诉已处理",
    "webhook.disabled": "回调订阅因持续失败已停用",
    "star.changed": "您的志愿者星级已更新",
    "star.eligible": "您的服务时长已够申请新的星级",
    "star.application.submitted": "有新的星级申请待审核",
}


@dataclass
class Notifier:
    codec: SensitiveCodec
    wechat: WeChatSubscribeSender | None = None
    wechat_templates: dict[str, WeChatTemplate] = field(default_factory=dict)
    sms: HttpSmsNotifier | None = None

    def deliver(self, message: OutboxMessage, recipient: User | None) -> str:
        """Send through the best channel the recipient has; returns the channel used.
        Raises on a failed send so that the worker retries."""
        text = TOPIC_TEXT.get(message.topic, message.topic)
        params = {k: str(v) for k, v in message.payload.items() if v is not None}
        template = self.wechat_templates.get(message.topic)
        if recipient is not None and recipient.wechat_openid and self.wechat and template:
            page = f"pages/order/detail?id={params.get('order_id', '')}"
            values = {"text": text, **params}
            # Templates accept only their own fields; "thing" values hold 20 characters at most.
            data = {
                key: values.get(source, "")[:WECHAT_VALUE_MAX]
                for key, source in template.fields.items()
            }
            self.wechat.send(recipient.wechat_openid, template.template_id, page, data)
            return "wechat"
        if recipient is not None and recipient.phone_cipher is not None and self.sms is not None:
            phone = self.codec.decrypt(recipient.phone_cipher, context=PHONE_CONTEXT)
            self.sms.send(phone, message.topic, {"text": text, **params})
            return "sms"
        log.info(
            "notification %s to %s: %s %s", message.topic, message.recipient_user_id, text, params
        )
        return "log"
