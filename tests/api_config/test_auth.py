"""Internal tokens: header only, every token compared in constant time, no early exit."""

from __future__ import annotations

import hmac
import statistics
import time

import pytest

from bando.api_config import auth
from bando.api_config.auth import BearerAuth, configured_tokens
from bando.settings import Settings

TOKENS = [b"first-token-0123456789abcdef", b"second-token-0123456789abcd", b"third-token-0123456789abcdef"]


def test_every_token_is_compared_with_compare_digest_without_early_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    guard = BearerAuth(app=None, tokens=TOKENS)
    assert guard._valid(TOKENS[0]) is True
    assert len(calls) == len(TOKENS)  # the match on the first token did not stop the loop
    calls.clear()
    assert guard._valid(b"x" * 28) is False and len(calls) == len(TOKENS)


def test_a_near_miss_takes_as_long_as_a_far_miss() -> None:
    guard = BearerAuth(app=None, tokens=TOKENS)
    near = TOKENS[1][:-1] + b"X"  # all but the last byte right
    far = b"Y" * len(TOKENS[1])

    def timing(token: bytes) -> float:
        samples = []
        for _ in range(30):
            started = time.perf_counter_ns()
            for _ in range(2000):
                guard._valid(token)
            samples.append(time.perf_counter_ns() - started)
        return statistics.median(samples)

    near_ns, far_ns = timing(near), timing(far)
    assert abs(near_ns - far_ns) / far_ns < 0.25, (near_ns, far_ns)


def test_short_tokens_are_ignored_and_the_file_is_read(tmp_path) -> None:
    path = tmp_path / "tokens"
    path.write_text("from-a-file-0123456789\nshort\n")
    settings = Settings(internal_tokens="from-env-0123456789abc,tiny", internal_tokens_file=path, province="33")
    assert configured_tokens(settings) == [b"from-env-0123456789abc", b"from-a-file-0123456789"]
