"""Sentinel URLs: parsed the way kombu reads them, required master name, Celery given the options."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.celery_app import create_celery
from shared.redis_client import connect_redis, parse_sentinel_url
from shared.settings import load_settings


def test_sentinel_url_with_several_hosts_password_and_db() -> None:
    target = parse_sentinel_url("sentinel://:s3cret@h1:26379;sentinel://h2:26380;sentinel://h3/2")
    assert target.hosts == [("h1", 26379), ("h2", 26380), ("h3", 26379)]
    assert target.db == 2 and target.password == "s3cret"


def test_a_plain_redis_url_is_not_a_sentinel_url() -> None:
    with pytest.raises(ValueError, match="not a sentinel"):
        parse_sentinel_url("sentinel://h1:26379;redis://h2:6379")


def test_sentinel_url_needs_the_master_name() -> None:
    with pytest.raises(ValidationError, match="HELPLOOP_REDIS_SENTINEL_MASTER"):
        load_settings(env="test", redis_url="sentinel://h1:26379/0")
    with pytest.raises(ValueError, match="HELPLOOP_REDIS_SENTINEL_MASTER"):
        connect_redis("sentinel://h1:26379/0")


def test_celery_gets_the_master_name_for_broker_and_results() -> None:
    settings = load_settings(
        env="test",
        redis_url="sentinel://h1:26379;sentinel://h2:26379/0",
        redis_sentinel_master="helploop",
        redis_sentinel_password="sentinel-pw",
    )
    app = create_celery(settings)
    expected = {"master_name": "helploop", "sentinel_kwargs": {"password": "sentinel-pw"}}
    assert app.conf.broker_transport_options.items() >= expected.items()
    assert app.conf.broker_transport_options["visibility_timeout"] == settings.broker_visibility_timeout_s
    assert app.conf.result_backend_transport_options.items() >= expected.items()
    assert app.conf.result_backend_transport_options["retry_policy"]["max_retries"] == 10  # ~ the 10 s
    assert app.conf.broker_url.startswith("sentinel://")
