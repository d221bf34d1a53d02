"""Server configuration, read from `QUIRE_*` environment variables.

Nothing here touches the filesystem or the network: `Settings()` is a plain value, so tests and
workers build their own and pass it to `create_app()`.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path("~/.quire").expanduser()


class Settings(BaseSettings):
    # an exported but empty variable (`QUIRE_HOME=`) means the default, not "" (the current
    # directory, or an unparsable URL)
    model_config = SettingsConfigDict(env_prefix="QUIRE_", extra="ignore", env_ignore_empty=True)

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    """`sqlite:///path`, `postgresql://user@host/db` (async drivers are chosen automatically)."""

    owner_username: str = "quire"
    owner_api_key: str | None = None
    owner_password: str | None = None

    database_pool_size: int = 10
    sqlite_busy_timeout_seconds: float = 30.0

    events_retain_all: bool = False
    """Store every event even when no webhook or stream listens (for replay and audit)."""

    max_records_per_bulk: int = 500
    max_vector_search_results: int = 1000

    # --- webhook delivery (see quire.server.delivery) ---
    delivery_enabled: bool = True
    """`QUIRE_DELIVERY_ENABLED`: run a dispatcher inside `quire server` (`--no-dispatch` turns it
    off; `quire worker` processes then deliver)."""
    delivery_concurrency_per_webhook: int = Field(default=16, ge=1, le=1000)
    """`QUIRE_DELIVERY_CONCURRENCY_PER_WEBHOOK`: requests in flight to one webhook, per dispatcher."""
    delivery_failures_before_disable: int = Field(default=20, ge=1)
    """`QUIRE_DELIVERY_FAILURES_BEFORE_DISABLE`: a webhook whose deliveries end failed this many
    times in a row (no success between) is disabled, with the reason stored."""
    delivery_lease_seconds: float = Field(default=30.0, gt=0)
    """`QUIRE_DELIVERY_LEASE_SECONDS`: the SQLite dispatcher lock's lifetime (renewed every third of
    it; a standby takes over when it expires, at once when its holder died on this machine), and
    the shortest claim on a delivery (a claim always outlives two policy timeouts + 15 s)."""
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    """`QUIRE_DELIVERY_POLL_SECONDS`: safety poll; commits wake the dispatcher at once anyway."""
    delivery_schedule_scale: float = Field(default=1.0, ge=0)
    """`QUIRE_DELIVERY_SCHEDULE_SCALE`: multiplies every retry wait of every policy (tests: 0.001)."""
    delivery_timeout_scale: float = Field(default=1.0, gt=0)
    """`QUIRE_DELIVERY_TIMEOUT_SCALE`: multiplies every policy's timeout (tests: 0.01)."""
    webhook_allow: str = ""
    """`QUIRE_WEBHOOK_ALLOW`: comma-separated CIDRs deliveries may reach although refused by default
    (e.g. `10.1.2.0/24`). Cloud metadata addresses stay refused."""
    webhook_deny: str = ""
    """`QUIRE_WEBHOOK_DENY`: comma-separated CIDRs deliveries never reach; wins over the allow list
    (`127.0.0.0/8,::1/128` refuses loopback, allowed by default)."""
    metrics_enabled: bool = True
    """`QUIRE_METRICS_ENABLED`: serve Prometheus metrics at `GET /metrics`."""
    metrics_token: str | None = None
    """`QUIRE_METRICS_TOKEN`: when set, `/metrics` wants `Authorization: Bearer <token>`; when not,
    it is open — keep it behind your firewall."""

    # --- automation rules (see quire.server.rules and docs/rules.md) ---
    public_url: str = "http://127.0.0.1:6900"
    """`QUIRE_PUBLIC_URL`: how receivers reach this server (the signed URLs in rule payloads)."""
    rules_enabled: bool = True
    """`QUIRE_RULES_ENABLED`: run the rule scheduler beside the dispatcher (`quire server` unless
    `--no-dispatch`, and `quire worker`)."""
    rules_poll_seconds: float = Field(default=1.0, gt=0)
    """`QUIRE_RULES_POLL_SECONDS`: how often the scheduler looks for due rules."""
    rules_settle_seconds: float = Field(default=0.5, ge=0)
    """`QUIRE_RULES_SETTLE_SECONDS`: a window ends this long before the moment it is closed. Windows
    are exact without it on one host; it absorbs clock skew between quire hosts and the database."""
    rules_max_runs_per_batch: int = Field(default=500, ge=1, le=10_000)
    """`QUIRE_RULES_MAX_RUNS_PER_BATCH`: a webhook POST carries at most this many runs; more are
    split into several POSTs with the same window."""
    rules_max_batch_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """`QUIRE_RULES_MAX_BATCH_BYTES`: a POST body stays under this size (a batch is split sooner)."""
    rules_inline_limit_bytes: int = Field(default=64 * 1024, ge=16)
    """`QUIRE_RULES_INLINE_LIMIT_BYTES`: a field value (or a whole record) larger than this, as JSON,
    is replaced by a signed URL in the payload."""
    rules_url_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    """`QUIRE_RULES_URL_TTL_SECONDS`: how long the signed URLs of a payload stay valid."""
    rules_max_changes_per_run: int = Field(default=10_000, ge=10)
    """`QUIRE_RULES_MAX_CHANGES_PER_RUN`: a run takes at most about this many changed records (a
    larger backlog — a backfill — is worked through in consecutive windows, without waiting)."""
    rules_log_retention_days: float = Field(default=30.0, gt=0)
    """`QUIRE_RULES_LOG_RETENTION_DAYS`: run logs older than this are deleted."""

    @field_validator("webhook_allow", "webhook_deny")
    @classmethod
    def _cidr_list(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(f"not a CIDR network: {item.strip()!r} ({exc})") from None
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home.expanduser() / 'quire.db'}"
