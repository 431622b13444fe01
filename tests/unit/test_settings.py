"""Settings refuse placeholder secrets outside dev mode and parse list values from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import Settings, load_settings

STRONG = "a-real-secret-of-enough-length"


def test_prod_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPLOOP_WEBHOOK_SECRETS", raising=False)
    with pytest.raises(ValueError, match="placeholder"):
        Settings(_env_file=None, env="prod", api_keys=[STRONG]).require_real_secrets()


def test_prod_refuses_short_secret() -> None:
    with pytest.raises(ValueError, match="shorter than 16 bytes"):
        Settings(
            _env_file=None, env="prod", webhook_secrets=["short"], api_keys=[STRONG]
        ).require_real_secrets()


def test_gateway_refuses_to_start_with_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.gateway.app import create_app

    for name in ("HELPLOOP_ENV", "HELPLOOP_WEBHOOK_SECRETS", "HELPLOOP_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="placeholder"):
        create_app(settings=Settings(_env_file=None, database_url="sqlite://"))


def test_dev_accepts_placeholders_and_offline_tools_need_no_secrets() -> None:
    settings = Settings(_env_file=None, env="dev")
    assert settings.webhook_secrets == ["change-me"]
    settings.require_real_secrets()
    Settings(_env_file=None, env="prod")  # train/evaluate may build settings without any secret


def test_lists_come_from_comma_separated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLOOP_ENV", "prod")
    monkeypatch.setenv("HELPLOOP_WEBHOOK_SECRETS", f"{STRONG}-new, {STRONG}-old")
    monkeypatch.setenv("HELPLOOP_API_KEYS", STRONG)
    settings = Settings(_env_file=None)
    assert settings.webhook_secrets == [f"{STRONG}-new", f"{STRONG}-old"]
    assert settings.api_keys == [STRONG]


def test_defaults_are_local() -> None:
    settings = load_settings(_env_file=None, env="dev")
    assert settings.database_url == "sqlite:///./var/helploop.db"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert str(settings.model_registry_dir) == "var/models"
    assert settings.max_body_bytes == 256 * 1024


def test_invalid_values_are_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, env="dev", signature_tolerance_s=0)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, env="staging")
