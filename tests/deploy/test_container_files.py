"""The container files a hospital's IT team runs: parsed and checked for what matters —
a non-root user, a healthcheck, a one-shot migration before the bot starts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    steps = _instructions((DEPLOY / "Dockerfile").read_text())
    final_stage = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    users = [rest for keyword, rest in final_stage if keyword == "USER"]
    assert users, "the final stage must switch to a user"
    assert users[-1].split(":")[0] not in ("root", "0")
    health = [rest for keyword, rest in final_stage if keyword == "HEALTHCHECK"]
    assert health and '"trialbot", "health"' in health[-1]
    assert ("CMD", '["trialbot", "serve"]') in final_stage
    # the rules and templates ship inside the package (pyproject force-include)
    assert any(k == "COPY" and r.startswith("rules") for k, r in steps)


def test_compose_migrates_once_before_the_bot_starts() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "migrate", "bot"}
    assert services["migrate"]["command"] == ["trialbot", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    bot = services["bot"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["healthcheck"]["test"] == ["CMD", "trialbot", "health"]
    for name in ("migrate", "bot"):
        url = services[name]["environment"]["TRIALBOT_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
