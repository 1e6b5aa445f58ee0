import pytest

from core.settings import Settings


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


def test_a_local_kafka_cluster_is_reached_through_every_node_and_replicates_three_times() -> None:
    one = Settings(kafka_port=9092, kafka_controller_port=9093)
    assert (one.kafka_bootstrap, one.topic_replication, one.topic_min_insync) == ("127.0.0.1:9092", 1, 1)
    three = Settings(kafka_brokers=3, kafka_port=9092, kafka_controller_port=9093)
    assert three.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    assert three.kafka_node_ports == [(9092, 9093), (9192, 9193), (9292, 9293)]
    assert (three.topic_replication, three.topic_min_insync) == (3, 2)
    five = Settings(kafka_brokers=5)
    assert (five.topic_replication, five.topic_min_insync) == (3, 2)  # three copies are enough
