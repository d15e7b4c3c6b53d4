"""Internal tokens: named, hashed, scoped; header only, every hash compared in constant time."""

from __future__ import annotations

import hmac
import time

import pytest

from bando.api_config import auth
from bando.api_config.auth import BearerAuth, Token, configured_tokens, digest, new_token, parse_file
from bando.errors import BadInput
from bando.settings import Settings

PLAIN = [b"first-token-0123456789abcdef", b"second-token-0123456789abcd", b"third-token-0123456789abcdef"]
TOKENS = [Token(f"t{k}", digest(t), frozenset({"*"}), frozenset()) for k, t in enumerate(PLAIN)]


def test_every_token_is_compared_with_compare_digest_without_early_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    guard = BearerAuth(app=None, tokens=TOKENS)
    found = guard._valid(PLAIN[0])
    assert found is not None and found.name == "t0"
    assert len(calls) == len(TOKENS)  # the match on the first token did not stop the loop
    assert all(PLAIN[0] not in pair for pair in calls)  # only hashes are compared
    calls.clear()
    assert guard._valid(b"x" * 28) is None and len(calls) == len(TOKENS)


def test_a_near_miss_takes_as_long_as_a_far_miss() -> None:
    guard = BearerAuth(app=None, tokens=TOKENS)
    near = PLAIN[1][:-1] + b"X"  # all but the last byte right
    far = b"Y" * len(PLAIN[1])

    def once(token: bytes) -> int:
        started = time.perf_counter_ns()
        for _ in range(2000):
            guard._valid(token)
        return time.perf_counter_ns() - started

    # interleaved, and the fastest of each: on a busy machine the slow samples are other work's
    samples = [(once(near), once(far)) for _ in range(40)]
    near_ns, far_ns = min(s[0] for s in samples), min(s[1] for s in samples)
    assert abs(near_ns - far_ns) / far_ns < 0.25, (near_ns, far_ns)


def test_short_tokens_are_ignored_and_a_plain_file_is_still_read(tmp_path) -> None:
    path = tmp_path / "tokens"
    path.write_text("from-a-file-0123456789\nshort\n")
    settings = Settings(internal_tokens="from-env-0123456789abc,tiny", internal_tokens_file=path, province="33")
    tokens = configured_tokens(settings)
    assert [(t.name, t.sha256) for t in tokens] == [
        ("env-1", digest("from-env-0123456789abc")),
        ("file-1", digest("from-a-file-0123456789")),
    ]
    assert all(t.may_write("parcels") for t in tokens)


def test_a_new_token_is_stored_hashed_in_an_owner_only_file_with_its_scopes(tmp_path) -> None:
    path = tmp_path / "tokens.yml"
    token = new_token(path, "sensor-gateway", ["env_sensors"], ["sensor_readings"])
    text = path.read_text()
    assert token not in text and digest(token).hex() in text
    assert path.stat().st_mode & 0o777 == 0o600
    (gateway,) = parse_file(text)
    assert gateway.name == "sensor-gateway"
    assert gateway.may_write("sensor_readings") and gateway.may_read("sensor_readings")
    assert gateway.may_read("env_sensors") and not gateway.may_write("env_sensors")
    assert not gateway.may_read("parcels")
    with pytest.raises(BadInput):
        new_token(path, "sensor-gateway", [], [])


def test_a_malformed_token_entry_is_refused() -> None:
    with pytest.raises(BadInput):
        parse_file("tokens:\n  - name: x\n    sha256: not-hex\n")
