import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_choice, env_int, env_url


def test_a_bad_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        env_bool("DEBUG")


@pytest.mark.parametrize("raw,expected", [("1", True), ("yes", True), ("off", False), ("FALSE", False)])
def test_booleans_are_read(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is expected


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):
        env_int("EMAIL_PORT", 25)


def test_a_url_without_host_is_refused(monkeypatch):
    monkeypatch.setenv("SITE_URL", "example.com")
    with pytest.raises(ImproperlyConfigured, match="SITE_URL"):
        env_url("SITE_URL")


def test_an_unknown_provider_is_refused(monkeypatch):
    monkeypatch.setenv("ANYMAIL_PROVIDER", "carrier-pigeon")
    with pytest.raises(ImproperlyConfigured, match="ANYMAIL_PROVIDER='carrier-pigeon'"):
        env_choice("ANYMAIL_PROVIDER", "outbox", ("outbox", "mailgun"))
