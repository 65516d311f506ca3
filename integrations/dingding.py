"""DingTalk (DingDing): custom robot webhook, a link or actionCard message.

https://open.dingtalk.com/document/robots/custom-robot-access
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, Kind, OutgoingRequest, SendContext, template_field
from integrations.values import go_json

if TYPE_CHECKING:
    pass


def dingtalk_link(url: str) -> str:
    """DingTalk's link that opens `url` outside the DingTalk client (query encoded as Go's url.Values)."""
    return "dingtalk://dingtalkclient/page/link?" + urlencode([("pc_slide", "false"), ("url", url)])


class DingDing(IntegrationType):
    type = "dingding"
    label = "DingDing"
    description = "Posts a link or action card message to a DingTalk group through a custom robot webhook."
    error_prefix = "send notification to dingding: "
    example = {"url": "https://example.com/robot/send?access_token=example-token", "msgType": "link"}
    fields = (
        Field(
            "url",
            "URL",
            required=True,
            secret=True,
            template=True,
            required_error="could not find url property in settings",
            help="The custom robot's webhook URL, with its access_token. Templated.",
            placeholder="https://oapi.dingtalk.com/robot/send?access_token=xxxxxxxxx",
        ),
        Field(
            "msgType",
            "Message Type",
            Kind.CHOICE,
            default="link",
            choices=("link", "actionCard"),
            template=True,
            help="`link` or `actionCard`; any other value is sent as a link message. Templated.",
        ),
        template_field("title", "Title", "default.title", help="Templated title of the message.", kind=Kind.STRING),
        template_field("message", "Message", "default.message", help="Templated message text."),
    )

    def build(self, ctx: SendContext) -> OutgoingRequest:
        body = go_json(self.message(ctx))
        url = ctx.render_or_raw("url")
        return OutgoingRequest("POST", url, headers={"Content-Type": "application/json"}, body=body)

    @staticmethod
    def message(ctx: SendContext) -> dict[str, Any]:
        link = dingtalk_link(rule_url(ctx.data.ExternalURL))
        text, title = ctx.render("message"), ctx.render("title")
        if ctx.render("msgType") == "actionCard":
            card = {"text": text, "title": title, "singleTitle": "More", "singleURL": link}
            return {"msgtype": "actionCard", "actionCard": card}
        return {"msgtype": "link", "link": {"text": text, "title": title, "messageUrl": link}}
