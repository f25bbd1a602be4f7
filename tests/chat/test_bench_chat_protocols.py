"""bench.chat_protocols runs end to end: real bedrock-local, real dev, real clients.

Only that it measures (three figures, each with both sides); the figures'
goals are the benchmark's, not a test's.
"""

from __future__ import annotations

from bench import chat_protocols


def test_the_first_token_benchmark_measures_every_path():
    figures = chat_protocols.run(rounds=2)
    assert [f.name for f in figures] == [
        "first token, /v1/chat/completions (p50)",
        "first token, /v1/chat/completions (p90)",
        "first token, /api/chat (p50)",
    ]
    for figure in figures:
        assert figure.measured, figure
        # Nothing arrives before the model's own first token.
        assert figure.ours >= chat_protocols.FIRST_TOKEN_LATENCY * 1000, figure
