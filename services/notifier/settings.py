"""notifier's own settings, beside those every service shares (``XIAOER_*`` variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import Settings


class NotifierSettings(Settings):
    notifier_database_url: str = "sqlite+aiosqlite:///var/notifier.db"

    # SLA clocks
    business_hours: list[str] = Field(
        ["09:00-12:00", "13:00-18:00"], description="working windows of a working day, Asia/Shanghai"
    )
    sla_pausing_states: list[str] = ["awaiting_supplement"]
    scheduler_enabled: bool = True  # tests drive the scheduler's clock themselves
    scheduler_tick_seconds: float = 5.0
    scheduler_batch_size: int = 500
    stats_count_seconds: float = Field(
        60.0, description="how often the scheduler counts again the records that changed (day_counts.py)"
    )

    # Notifications
    notification_max_attempts: int = 5
    notification_retry_seconds: float = 60.0  # doubled after each failed attempt
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "xiaoer@localhost"
    webhook_secret: SecretStr | None = None
    wechat_template_id: str = "xiaoer-progress"

    @property
    def database_url(self) -> str:
        return self.notifier_database_url
