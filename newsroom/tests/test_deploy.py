"""Production settings: `check --deploy` is silent, and a bad value stops start-up.

Each case starts `manage.py` in a fresh interpreter with only the variables
given, because settings are read once, at import.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "news.example.com",
        "SITE_URL": "https://news.example.com",
        # Nothing connects during `check`; the hosts need not exist.
        "DATABASE_URL": "postgres://newsroom:db-password@db.internal.example:5432/newsroom",
        "REDIS_URL": "redis://cache.internal.example:6379/0",
        "ANYMAIL_PROVIDER": "mailgun",
        "ANYMAIL_API_KEY": "key-" + secrets.token_hex(16),
        "ANYMAIL_SENDER_DOMAIN": "mg.example.com",
        "WEBHOOK_SECRET": "hooks:" + secrets.token_urlsafe(24),
        "DEFAULT_FROM_EMAIL": "The Newsroom Daily <newsletter@example.com>",
    }
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stderr


def test_the_deploy_check_notices_a_short_secret_key(tmp_path):
    # Proves the check above would fail if the settings were weak.
    result = manage(production_env(tmp_path, SECRET_KEY="short"), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("EMAIL_PORT", "abc", "EMAIL_PORT='abc' is not a whole number"),
        ("ANYMAIL_PROVIDER", "nope", "ANYMAIL_PROVIDER='nope' is not one of"),
        ("SITE_URL", "not-a-url", "SITE_URL='not-a-url' is not a valid URL"),
        ("DATABASE_URL", "garbage", "DATABASE_URL is malformed"),
        ("REDIS_URL", "http://cache.example", "REDIS_URL='http://cache.example' is not a valid URL"),
        ("WEBHOOK_SECRET", "no-colon-here", "WEBHOOK_SECRET must look like 'user:password'"),
        ("ANYMAIL_API_KEY", "", "ANYMAIL_PROVIDER=mailgun needs ANYMAIL_API_KEY"),
        ("SECRET_KEY", "", "SECRET_KEY must be set when DEBUG is off"),
        ("SPONSOR_LABEL_DEFAULT", "  ", "SPONSOR_LABEL_DEFAULT must be 1 to 80 characters"),
        ("API_RATE_LIMIT", "lots", "API_RATE_LIMIT='lots' is not a rate"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path, name, value, message):
    result = manage(production_env(tmp_path, **{name: value}), "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
