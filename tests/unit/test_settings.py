import pytest

from cinestream.settings import Settings


def test_addresses_follow_local_ports_and_are_not_external(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINESTREAM_KAFKA_PORT", "19092")
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert not settings.is_external("kafka")


def test_an_address_the_user_sets_is_external(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINESTREAM_MONGO_URI", "mongodb://db.example:27017")
    settings = Settings()
    assert settings.mongo_uri == "mongodb://db.example:27017"
    assert settings.is_external("mongo") and not settings.is_external("redis")
