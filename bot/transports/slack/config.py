"""The Slack transport's settings, read once at start from the environment and checked all
at once: every missing or malformed value is one line of `SlackConfigError.problems`, so an
IT team fixes a deployment in one pass instead of one restart per typo.

- `SLACK_BOT_TOKEN` (xoxb-…): always;
- `SLACK_APP_TOKEN` (xapp-…, scope `connections:write`): Socket Mode (`trialbot serve`);
- `SLACK_SIGNING_SECRET`: HTTP mode (`trialbot serve --http`);
- `SLACK_API_URL`: base URL of the Web API for every call, `apps.connections.open`
  included (default Slack's own);
- `SLACK_PROXY`: an http(s) proxy for the Web API and Socket Mode clients;
- `SSL_CERT_FILE`: a PEM bundle of trusted CAs (TLS inspection), for both clients;
- `TRIALBOT_SITE_CHANNELS`: `main=C0123ABCD[,other=C…]`, each site's study channel;
- `TRIALBOT_SLACK_WORKER`: `process` (default) — `trialbot serve` acks in its own process
  and does the work in one worker process (`worker`) — or `thread`, everything in one
  process (the mode of the tests' in-process apps and of small sites);
- `TRIALBOT_SLACK_WORKERS`: how many worker processes in process mode — `auto` (default:
  one on SQLite, which takes one writing process; on PostgreSQL one per CPU, at most
  `MAX_WORKERS`) or a number from 1 to `MAX_WORKERS` (more than one: PostgreSQL only,
  checked by `trialbot serve`, which knows the database).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bot.services.sites import channel_id

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
WORKER_MODES = ("process", "thread")
DEFAULT_WORKER = "process"
MAX_WORKERS = 8  # beyond the cores of any site's server, and each holds a connection pool


class SlackConfigError(Exception):
    """The environment does not make a working Slack app; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    mode: str = "socket"  # "socket" or "http"
    app_token: str | None = None
    signing_secret: str | None = None
    api_url: str = DEFAULT_API_URL
    proxy: str | None = None
    ssl_cert_file: Path | None = None
    site_channels: Mapping[str, str] = field(default_factory=dict)
    worker: str = DEFAULT_WORKER  # read by `trialbot serve` only (WORKER_MODES)
    workers: int | None = None  # TRIALBOT_SLACK_WORKERS; None: auto (`worker_count`)

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.ssl_cert_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ssl_cert_file))


def parse_site_channels(text: str, known_sites: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """`main=C0123ABCD,other=C0456EFGH` → ({"main": "C0123ABCD", …}, problems)."""
    known = list(known_sites)
    channels: dict[str, str] = {}
    problems: list[str] = []
    name = "TRIALBOT_SITE_CHANNELS"
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        site, sep, channel = (s.strip() for s in part.partition("="))
        if not sep or not site or not channel:
            problems.append(f"{name}: {part!r} is not site=CHANNEL_ID (e.g. main=C0123ABCD)")
            continue
        if known and site not in known:
            problems.append(f"{name}: unknown site {site!r} (sites: {', '.join(known)})")
            continue
        found = channel_id(channel)
        if found is None:
            problems.append(
                f"{name}: {channel!r} for site {site} is not a channel id "
                "(C or G followed by letters and digits, e.g. C0123ABCD; "
                "copy it from the channel's details in Slack)"
            )
            continue
        if site in channels:
            problems.append(f"{name}: site {site} is given twice")
            continue
        if found in channels.values():
            problems.append(f"{name}: channel {found} is given to two sites")
            continue
        channels[site] = found
    return channels, problems


def _url(name: str, value: str, problems: list[str], *, schemes: tuple[str, ...]) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        problems.append(
            f"{name}: {value!r} is not a URL ({' or '.join(s + '://' for s in schemes)}host…)"
        )
        return None
    return value


def load_slack_config(
    env: Mapping[str, str], *, http: bool, known_sites: Iterable[str] = ()
) -> SlackConfig:
    """The Slack settings from `env`, or `SlackConfigError` listing every problem."""
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    bot_token = get("SLACK_BOT_TOKEN")
    if bot_token is None:
        problems.append(
            "SLACK_BOT_TOKEN: not set (the bot token, xoxb-…, from OAuth & Permissions)"
        )
    elif not bot_token.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN: does not start with xoxb- (a bot token is needed)")

    app_token = get("SLACK_APP_TOKEN")
    signing_secret = get("SLACK_SIGNING_SECRET")
    if http:
        if signing_secret is None:
            problems.append(
                "SLACK_SIGNING_SECRET: not set (needed by --http; Basic Information → App Credentials)"
            )
        elif not re.fullmatch(r"[0-9a-fA-F]{16,}", signing_secret):
            problems.append("SLACK_SIGNING_SECRET: not a signing secret (hexadecimal digits)")
    else:
        if app_token is None:
            problems.append(
                "SLACK_APP_TOKEN: not set (Socket Mode needs an app-level token xapp-… with "
                "connections:write; or run with --http)"
            )
        elif not app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN: does not start with xapp- (an app-level token)")

    api_url = get("SLACK_API_URL") or DEFAULT_API_URL
    api_url = _url("SLACK_API_URL", api_url, problems, schemes=("https", "http")) or api_url
    if not api_url.endswith("/"):
        api_url += "/"
    proxy = get("SLACK_PROXY")
    if proxy is not None:
        _url("SLACK_PROXY", proxy, problems, schemes=("http", "https"))

    cert_file: Path | None = None
    cert = get("SSL_CERT_FILE")
    if cert is not None:
        cert_file = Path(cert)
        if not cert_file.is_file():
            problems.append(f"SSL_CERT_FILE: {cert} is not a file")
        else:
            try:
                ssl.create_default_context(cafile=str(cert_file))
            except (ssl.SSLError, OSError, ValueError) as exc:
                problems.append(
                    f"SSL_CERT_FILE: {cert} is not a PEM bundle of certificates ({exc})"
                )

    channels, channel_problems = parse_site_channels(
        get("TRIALBOT_SITE_CHANNELS") or "", known_sites
    )
    problems.extend(channel_problems)

    given = get("TRIALBOT_SLACK_WORKER") or DEFAULT_WORKER
    worker = given.lower()
    if worker not in WORKER_MODES:
        problems.append(
            f"TRIALBOT_SLACK_WORKER: {given!r} is not a worker mode (process: the work in a "
            "worker process beside the acks — the default; thread: all in one process)"
        )

    workers = _workers(get("TRIALBOT_SLACK_WORKERS"), worker, problems)

    if problems:
        raise SlackConfigError(problems)
    assert bot_token is not None
    return SlackConfig(
        bot_token=bot_token,
        mode="http" if http else "socket",
        app_token=app_token,
        signing_secret=signing_secret,
        api_url=api_url,
        proxy=proxy,
        ssl_cert_file=cert_file,
        site_channels=channels,
        worker=worker,
        workers=workers,
    )


def _workers(given: str | None, mode: str, problems: list[str]) -> int | None:
    """TRIALBOT_SLACK_WORKERS: None for auto, else the number (problems noted)."""
    name = "TRIALBOT_SLACK_WORKERS"
    text = (given or "auto").strip().lower()
    if text == "auto":
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        problems.append(
            f"{name}: {given!r} is not a number of worker processes (auto — the default — "
            f"or 1 to {MAX_WORKERS})"
        )
        return None
    count = int(text)
    if count > 1 and mode == "thread":
        problems.append(
            f"{name}: {count} worker processes need TRIALBOT_SLACK_WORKER=process "
            "(thread runs everything in one process)"
        )
    return count


def worker_count(config: SlackConfig, dialect: str, cpus: int | None) -> int:
    """How many worker processes `trialbot serve` starts in process mode: the setting,
    or for auto one on SQLite and one per CPU (at most MAX_WORKERS) on PostgreSQL, where
    the outbox's claims (SKIP LOCKED), the patients' locks and the idempotency keys make
    several writing processes safe."""
    if config.workers is not None:
        return config.workers
    if dialect == "sqlite":
        return 1
    return max(1, min(MAX_WORKERS, cpus or 1))
