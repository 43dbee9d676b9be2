"""Delivery channels to the outside: WeChat subscribe messages, e-mail over SMTP, and signed
webhooks. Each send raises on failure; the caller records the outcome and retries later."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import time
from email.message import EmailMessage

import httpx

from .models import Notification
from .settings import NotifierSettings

TOKEN_EXPIRED = {40001, 40014, 42001}


class DeliveryError(Exception):
    pass


class Channels:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def send(self, notification: Notification) -> None:
        sender = {"wechat": self.wechat, "email": self.email, "webhook": self.webhook}.get(notification.channel)
        if sender is None:
            raise DeliveryError(f"unknown channel {notification.channel}")
        await sender(notification)

    # --- WeChat ----------------------------------------------------------------------------------------
    async def access_token(self, refresh: bool = False) -> str:
        """WeChat's access token, cached until five minutes before it expires."""
        async with self._token_lock:
            if refresh or self._token is None or time.monotonic() >= self._token_expires:
                if not self.settings.wechat_appid or self.settings.wechat_secret is None:
                    raise DeliveryError("WeChat is not configured")
                async with httpx.AsyncClient(base_url=self.settings.wechat_api_base_url, timeout=10) as client:
                    answer = (
                        await client.get(
                            "/cgi-bin/token",
                            params={
                                "grant_type": "client_credential",
                                "appid": self.settings.wechat_appid,
                                "secret": self.settings.wechat_secret.get_secret_value(),
                            },
                        )
                    ).json()
                if "access_token" not in answer:
                    raise DeliveryError(f"WeChat token refused: {answer}")
                self._token = answer["access_token"]
                self._token_expires = time.monotonic() + int(answer.get("expires_in", 7200)) - 300
            return self._token

    async def wechat(self, notification: Notification) -> None:
        payload = {
            "touser": notification.address,
            "template_id": self.settings.wechat_template_id,
            "data": {"thing1": {"value": notification.title[:20]}, "thing2": {"value": notification.body[:20]}},
        }
        for attempt in range(2):
            token = await self.access_token(refresh=attempt > 0)
            async with httpx.AsyncClient(base_url=self.settings.wechat_api_base_url, timeout=10) as client:
                answer = (
                    await client.post("/cgi-bin/message/subscribe/send", params={"access_token": token}, json=payload)
                ).json()
            if answer.get("errcode", 0) == 0:
                return
            if answer.get("errcode") not in TOKEN_EXPIRED:
                break
        raise DeliveryError(f"WeChat refused: {answer}")

    # --- e-mail ----------------------------------------------------------------------------------------
    async def email(self, notification: Notification) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = notification.address
        message["Subject"] = f"【店小二】{notification.title}"
        message.set_content(notification.body)

        def send() -> None:
            with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
                smtp.send_message(message)

        try:
            await asyncio.to_thread(send)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP: {exc}") from exc

    # --- webhooks ----------------------------------------------------------------------------------------
    def signature(self, body: bytes) -> str:
        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        return "sha256=" + hmac.new((secret or self.settings.signing_key).encode(), body, hashlib.sha256).hexdigest()

    async def webhook(self, notification: Notification) -> None:
        body = json.dumps(
            {
                "id": notification.id,
                "kind": notification.kind,
                "work_item_id": notification.work_item_id,
                "title": notification.title,
                "body": notification.body,
                "urgent": notification.urgent,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Xiaoer-Signature": self.signature(body),
            "X-Xiaoer-Delivery": str(notification.id),
        }
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(notification.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryError(f"webhook answered {response.status_code}")
