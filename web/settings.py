"""Settings read once from the environment; the app factory receives them, nothing reads os.environ later."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from consult.retention import RetentionPolicy
from media.settings import MediaSettings
from media.turn import IceSettings
from storage.crypto import CIPHERS


class SettingsError(Exception):
    """The configuration is incomplete or wrong; the message says what to set."""


#: Event loops `run.py serve` can run on.
EVENT_LOOPS = ("uvloop", "asyncio")


@dataclass(frozen=True)
class Settings:
    """Everything a Jiayi node needs to start."""

    database_url: str
    secret_key: bytes
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str | None = None
    #: Namespaces this deployment's keys and channel in a shared Redis.
    redis_prefix: str = "jiayi"
    demo: bool = False
    master_key: bytes | None = None
    cipher: str = "AES-256-GCM"
    token_ttl_s: int = 8 * 3600
    timezone: str = "Asia/Shanghai"
    login_max_failures: int = 5
    login_max_failures_per_address: int = 50
    login_window_s: int = 900
    max_json_bytes: int = 64 * 1024
    #: How long a dropped client keeps its place in a queue or consult room.
    grace_period_s: float = 60.0
    #: How long the hub trusts what it cached about a user (role, teams, bindings, referred residents) and
    #: a conversation's members. Changes made through Jiayi reach every node at once anyway; this bounds
    #: how long one made outside it (SQL: an account disabled, a binding revoked) goes unseen by live
    #: connections. Access tokens themselves last `token_ttl_s`.
    cache_ttl_s: float = 300.0
    #: Video: the media workers' settings, or None to switch video off (chat and rooms still work).
    media: MediaSettings | None = None
    #: The STUN/TURN servers handed to browsers, and the TURN REST secret shared with coturn.
    ice: IceSettings = field(default_factory=IceSettings)
    #: How long recordings, chats and medical records are kept (never below the legal minimum).
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    #: How often a node purges what expired (0: never; `run.py purge` then does it).
    purge_interval_s: float = 0
    #: The server's event loop: "uvloop" (C, what `run.py serve` uses) or "asyncio" (the standard one).
    event_loop: str = "uvloop"
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.secret_key) < 32:
            raise SettingsError("JIAYI_SECRET_KEY must be at least 32 bytes (e.g. `openssl rand -hex 32`)")
        if self.cipher not in CIPHERS:
            raise SettingsError(f"JIAYI_CIPHER must be one of {sorted(CIPHERS)}, got {self.cipher!r}")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"JIAYI_PORT must be a TCP port, got {self.port!r}")
        if self.event_loop not in EVENT_LOOPS:
            raise SettingsError(
                f"JIAYI_EVENT_LOOP must be one of {list(EVENT_LOOPS)}, got {self.event_loop!r}"
            )

    @property
    def blob_dir(self) -> Path:
        """Where encrypted objects are stored."""
        return self.data_dir / "blobs"


def _demo_secret(data_dir: Path) -> bytes:
    """A random secret kept in the data folder, so a demo node keeps its tokens and keys across restarts."""
    path = data_dir / "demo-secret.key"
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


def from_env(env: Mapping[str, str], *, demo: bool = False) -> Settings:
    """Build settings from environment variables (see docs/operations.md for each)."""
    data_dir = Path(env.get("JIAYI_DATA_DIR", "var")).resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'jiayi.db'}"
    raw_secret = env.get("JIAYI_SECRET_KEY")
    if raw_secret:
        secret = raw_secret.encode()
    elif demo:
        secret = _demo_secret(data_dir)
    else:
        raise SettingsError(
            "JIAYI_SECRET_KEY is not set. Set it to a random value of at least 32 bytes "
            "(e.g. `export JIAYI_SECRET_KEY=$(openssl rand -hex 32)`), or start the demo with "
            "`run.py serve --demo` (what `make run` does)."
        )
    master_key = None
    if raw_master := env.get("JIAYI_MASTER_KEY"):
        try:
            master_key = base64.urlsafe_b64decode(raw_master + "=" * (-len(raw_master) % 4))
        except ValueError as err:
            raise SettingsError("JIAYI_MASTER_KEY must be base64url of 32 random bytes") from err
        if len(master_key) != 32:
            raise SettingsError(f"JIAYI_MASTER_KEY must decode to 32 bytes, got {len(master_key)}")
    try:
        port = int(env.get("JIAYI_PORT", "8080"))
        ttl = int(env.get("JIAYI_TOKEN_TTL", str(8 * 3600)))
    except ValueError as err:
        raise SettingsError(f"JIAYI_PORT and JIAYI_TOKEN_TTL must be integers: {err}") from err
    try:
        cache_ttl = float(env.get("JIAYI_CACHE_TTL", "300"))
    except ValueError as err:
        raise SettingsError(f"JIAYI_CACHE_TTL must be a number of seconds: {err}") from err
    if not 0 <= cache_ttl <= 3600:
        raise SettingsError(f"JIAYI_CACHE_TTL must be between 0 and 3600 seconds, got {cache_ttl:g}")
    media, ice = _media_from_env(env)
    try:
        retention = RetentionPolicy(
            recording_years=int(env.get("JIAYI_RETAIN_RECORDINGS_YEARS", "3")),
            chat_years=int(env.get("JIAYI_RETAIN_CHAT_YEARS", "3")),
            medical_record_years=int(env.get("JIAYI_RETAIN_RECORDS_YEARS", "15")),
        )
        purge_interval = float(env.get("JIAYI_PURGE_INTERVAL", str(24 * 3600)))
    except ValueError as err:
        raise SettingsError(f"retention settings: {err}") from err
    return Settings(
        database_url=database_url,
        secret_key=secret,
        data_dir=data_dir,
        host=env.get("JIAYI_HOST", "127.0.0.1"),
        port=port,
        redis_url=env.get("REDIS_URL") or None,
        redis_prefix=env.get("JIAYI_REDIS_PREFIX", "jiayi"),
        demo=demo,
        master_key=master_key,
        cipher=env.get("JIAYI_CIPHER", "AES-256-GCM"),
        token_ttl_s=ttl,
        cache_ttl_s=cache_ttl,
        timezone=env.get("JIAYI_TIMEZONE", "Asia/Shanghai"),
        media=media,
        ice=ice,
        retention=retention,
        purge_interval_s=purge_interval,
        event_loop=env.get("JIAYI_EVENT_LOOP", "uvloop"),
    )


def _words(raw: str | None) -> tuple[str, ...]:
    return tuple(w.strip() for w in (raw or "").split(",") if w.strip())


def _media_from_env(env: Mapping[str, str]) -> tuple[MediaSettings | None, IceSettings]:
    """JIAYI_MEDIA_WORKERS (default: one per core; 0 switches video off), JIAYI_MEDIA_HOSTS (the
    addresses browsers reach the media workers on), JIAYI_STUN_URLS, JIAYI_TURN_URLS,
    JIAYI_TURN_SECRET and JIAYI_TURN_TTL (seconds)."""
    try:
        workers = int(env["JIAYI_MEDIA_WORKERS"]) if env.get("JIAYI_MEDIA_WORKERS") else None
        turn_ttl = int(env.get("JIAYI_TURN_TTL", "3600"))
    except ValueError as err:
        raise SettingsError(f"JIAYI_MEDIA_WORKERS and JIAYI_TURN_TTL must be integers: {err}") from err
    try:
        ice = IceSettings(
            stun_urls=_words(env.get("JIAYI_STUN_URLS")),
            turn_urls=_words(env.get("JIAYI_TURN_URLS")),
            turn_secret=env.get("JIAYI_TURN_SECRET") or None,
            turn_lifetime_s=turn_ttl,
        )
        if workers == 0:
            return None, ice
        media = MediaSettings(
            host_addresses=_words(env.get("JIAYI_MEDIA_HOSTS")) or ("127.0.0.1",), workers=workers
        )
    except ValueError as err:
        raise SettingsError(f"media settings: {err}") from err
    return media, ice
