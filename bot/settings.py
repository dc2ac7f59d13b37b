"""Process settings, read once at start-up from `TRIALBOT_*` environment variables.

Build one `Settings` (usually with `load_settings()`) in the entry point and pass it down;
nothing in `bot/` keeps a module-level instance, so tests build their own.

- `TRIALBOT_DATABASE_URL`: SQLAlchemy URL, `sqlite:///path` or `postgresql+psycopg://…`
  (default: `trialbot.db` in the working directory at start-up);
- `TRIALBOT_USER`: who the console acts as (default `console`);
- `TRIALBOT_ADMINS`: comma-separated Slack user ids with the admin role (default none);
- `TRIALBOT_RULES_DIR`: folder holding the trials' rules directories (default: shipped);
- `TRIALBOT_TRIAL`: the trial's rules directory name under the rules folder (default: the
  shipped trial); every command also takes `--trial NAME`, which wins over it;
- `TRIALBOT_DEFAULT_SITE`: site id used when a command names none (default: the trial's
  own `default_site` in its `sites.yaml`);
- `TRIALBOT_NOW`: an ISO instant with its UTC offset (e.g. `2027-03-08T09:00+08:00`); when
  set, the console runs at that fixed instant instead of the system clock — for replaying
  a trial from a script and for tests (default: not set);
- `TRIALBOT_HOLD_REVIEW_AFTER`: days after which a drug still on hold is listed for review
  (`holds`, and the scheduler's daily digest): a hold whose toxicity cannot return to grade
  0–I would otherwise be forgotten (default 21, a three-weekly cycle).
- `TRIALBOT_DIGEST_AT`: site-local time of each site's daily digest (default `07:30`);
- `TRIALBOT_ESCALATE_AFTER`: how long an alert may stay unacknowledged before the next
  step of its chain (`30m`, `1h`, `90s`; default `30m`);
- `TRIALBOT_REMIND_DAYS`: treatment days before an infusion that the pre-dose labs
  reminder goes out (default 2);
- `TRIALBOT_CHEMO_HOLD_LIMIT_DAYS`: days a chemotherapy drug may stay on hold before the
  daily review refers it to the investigator (default 21: one consolidation cycle; the
  protocol gives no limit, see docs/protocol-readings.md).
- `TRIALBOT_CACHE_DIR`: where the validated rules are cached between processes, keyed by
  the rules files' content (`bot.protocol.cache`); a folder private to the user running
  trialbot (default: the platform's user cache folder, e.g. `~/.cache/trialbot`; `off`
  turns the cache off).
"""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import UserError
from bot.paths import DEFAULT_TRIAL, rules_root

ENV_PREFIX = "TRIALBOT_"
# Slack user ids: U… for workspace members, W… for Enterprise Grid users.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SUPPORTED_DATABASES = "sqlite:///<file> or postgresql+psycopg://user@host:port/database"
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """ "30m" → 30 minutes; "1h30m", "90s" too. A bare number is minutes."""
    value = text.strip().lower()
    if value.isdigit():
        return timedelta(minutes=int(value))
    match = _DURATION.match(value)
    if not value or match is None:
        raise ValueError(f"{text.strip()!r} is not a duration")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0))


def default_cache_dir() -> Path:
    """The user's cache folder for trialbot: `$XDG_CACHE_HOME/trialbot` (else
    `~/.cache/trialbot`) on Linux and other Unix, `~/Library/Caches/trialbot` on macOS,
    `%LOCALAPPDATA%\\trialbot\\Cache` on Windows."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "trialbot" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "trialbot"
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (
        Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    ) / "trialbot"


_OFF = ("off", "none", "no", "false", "0")


def default_database_url() -> str:
    """A SQLite file `trialbot.db` in the working directory at start-up."""
    return f"sqlite:///{Path.cwd() / 'trialbot.db'}"


class Settings(BaseSettings):
    # An empty variable (e.g. `TRIALBOT_ADMINS=` in a compose file) means "not set".
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    database_url: str = Field(default_factory=default_database_url)
    user: str = "console"
    admins: Annotated[tuple[str, ...], NoDecode] = ()
    rules_dir: Path = Field(default_factory=rules_root)
    trial: str = DEFAULT_TRIAL
    default_site: str | None = None  # None: the trial's sites.yaml `default_site`
    now: datetime | None = None
    hold_review_after: int = Field(default=21, ge=1, le=365)
    digest_at: time = time(7, 30)
    escalate_after: timedelta = timedelta(minutes=30)
    remind_days: int = Field(default=2, ge=0, le=10)
    chemo_hold_limit_days: int = Field(default=21, ge=1, le=365)
    cache_dir: Path | None = Field(default_factory=default_cache_dir)

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _cache_off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _OFF:
            return None
        return value

    @field_validator("cache_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_absolute():
            raise ValueError(f"{str(value)!r} is not an absolute path")
        return None if value is None else value.expanduser()

    @field_validator("digest_at", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return time.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value.strip()!r} is not a time of day") from None
        return value

    @field_validator("escalate_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @field_validator("escalate_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        value = value.strip()
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {value.split(':', 1)[0]!r}")
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("admins")
    @classmethod
    def _slack_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for user_id in value:
            if not SLACK_USER_ID.match(user_id):
                raise ValueError(f"{user_id!r} is not a Slack user id")
        return value

    @field_validator("now", mode="before")
    @classmethod
    def _iso_instant(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value.strip()!r} is not an ISO instant") from None
        return value

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A naive time has no defined instant: 09:00 where?
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{value.isoformat()} has no UTC offset")
        return value

    @field_validator("user", "trial", "default_site")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("trial")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        # a folder of the rules directory, never a path elsewhere
        if value in (".", "..") or "/" in value or "\\" in value:
            folder = Path(value)
            hint = (
                f": set {ENV_PREFIX}RULES_DIR={folder.parent} and {ENV_PREFIX}TRIAL={folder.name}"
                if folder.name not in ("", ".", "..")
                else ""
            )
            raise ValueError(
                f"{value!r} is not a trial folder name (a folder of {ENV_PREFIX}RULES_DIR, "
                f"beside its ctcae/){hint}"
            )
        return value

    def trial_dir(self) -> Path:
        """The trial's rules directory (`rules_dir / trial`); a name that is no trial
        there is refused, naming the trials that are."""
        path = self.rules_dir / self.trial
        if not path.is_dir():
            from bot.errors import closest

            known = sorted(
                p.name for p in self.rules_dir.glob("*") if (p / "schedule.yaml").is_file()
            )
            raise UserError(
                f"no trial {self.trial!r} in the rules folder",
                field=f"{ENV_PREFIX}TRIAL (or --trial)",
                allowed=", ".join(known) or "no trial folder there",
                suggestion=closest(self.trial, known),
            )
        return path


_ALLOWED = {
    "database_url": SUPPORTED_DATABASES,
    "admins": "comma-separated Slack user ids such as U012ABCDEF,W0456XYZ",
    "now": "an ISO instant with its UTC offset, e.g. 2027-03-08T09:00+08:00",
    "hold_review_after": "a whole number of days, 1–365 (default 21)",
    "digest_at": "a site-local time of day, e.g. 07:30",
    "escalate_after": "a duration such as 30m, 1h or 90s",
    "remind_days": "a whole number of treatment days, 0–10",
    "chemo_hold_limit_days": "a whole number of days, 1–365",
    "cache_dir": "an absolute folder path, or off",
}


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `overrides`); bad values become a `UserError`
    naming the environment variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        variable = f"{ENV_PREFIX}{name.upper()}" if name else ENV_PREFIX + "*"
        raise UserError(
            error["msg"].removeprefix("Value error, "), field=variable, allowed=_ALLOWED.get(name)
        ) from None


def configured_study_id_example() -> str:
    """The example study ID of the trial the settings name (its sites.yaml
    `study_ids.example`), read without loading the rules (`--help`, the demo's default
    numbering); a placeholder when it cannot be read."""
    return configured_help_names()["study_id"]


def configured_help_names() -> dict[str, str]:
    """What `--help` texts show as `{study_id}`: the configured trial's example study ID,
    read from its sites.yaml without validating the rules (only when help is shown); a
    placeholder when it cannot be read — help answers even when the rules do not load.
    (A sub-command whose help needs more of the trial reads the loaded rules:
    `epilog_from`, as `screen` does.)"""
    from bot.inputs import STUDY_ID_EXAMPLE

    names = {"study_id": STUDY_ID_EXAMPLE}
    try:
        import yaml

        directory = load_settings().trial_dir()
        sites = yaml.safe_load((directory / "sites.yaml").read_text(encoding="utf-8"))
        names["study_id"] = str(sites["study_ids"]["example"])
    except Exception:
        pass
    return names
