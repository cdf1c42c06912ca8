"""RoutingConfig validation, and the token bucket behind its rate limits."""

from __future__ import annotations

import pytest

from meshnet.errors import ConfigError
from meshnet.routing.config import RoutingConfig
from meshnet.routing.ratelimit import TokenBucket


def test_defaults_are_valid() -> None:
    config = RoutingConfig()
    assert config.lifetime == 3 * config.refresh_interval
    assert config.fast_interval <= 1.0


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"refresh_interval": 0}, "refresh_interval"),
        ({"accept_burst": 0}, "accept_burst"),
        ({"cost_threshold": 1.5}, "cost_threshold"),
        ({"rtt_gain": 0.0}, "rtt_gain"),
        ({"lifetime": 0}, "lifetime"),
        ({"lifetime": 70000}, "lifetime"),
        ({"lifetime": 500}, "exceed"),
        ({"flap_max_interval": 0.1}, "flap_max_interval"),
        ({"max_relays": 33}, "max_relays"),
        ({"hop_limit": 256}, "hop_limit"),
    ],
)
def test_bad_values_name_the_key(changes: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RoutingConfig(**changes)  # type: ignore[arg-type]


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.available(0.4)
    ready = bucket.ready_at(0.4)
    assert ready == pytest.approx(0.5)
    assert bucket.take(ready)
    assert bucket.ready_at(10.0) == 10.0  # refilled (to the burst, no more)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]
