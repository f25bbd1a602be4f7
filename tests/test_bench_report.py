"""The benchmark report (``bench.report``) and the pure parts of the benches,
on synthetic figures: no benchmark runs here, and nothing is timed."""

from __future__ import annotations

import doctest
import json

import pytest

from bench import figures, figures_block, lwa_model, relay, report
from bench.figures import Figure
from bench.report import ModuleRun, render_markdown, write_report

FIGURES = [
    Figure("cold start (median)", 100.0, "uvicorn + proxy", 200.0, "ms", goal=1.5,
           group="ASGI", note="a model of the adapter"),
    Figure("cold start (median)", 106.0, "Mangum", 100.0, "ms", goal=1 / 1.05, group="ASGI"),
    Figure("chunks/s", 250_000.0, "node", 200_000.0, "chunks/s", better="higher", goal=1.0,
           group="relay"),
    Figure("TTFB (p50)", 0.4, "node", 0.8, "ms", group="relay"),
    Figure("chunks/s", 300_000.0, "cargo-lambda", None, "chunks/s", better="higher", goal=1.0,
           group="relay", note="not run: cargo is not installed"),
]  # fmt: skip


def rows(markdown: str, group: str) -> list[list[str]]:
    """The table rows under ``## group``, as cells."""
    section = markdown.split(f"## {group}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_docstring_examples_hold():
    for module in (figures, figures_block, report):
        assert doctest.testmod(module).failed == 0


def test_ratio_advantage_and_goal_follow_the_better_direction():
    lwa, mangum, node, ttfb, cargo = FIGURES
    assert (lwa.ratio, lwa.advantage, lwa.met, lwa.goal_text) == (0.5, 2.0, True, "<= 0.67")
    assert mangum.met is False and mangum.goal_text == "<= 1.05"
    assert (node.ratio, node.met, node.goal_text) == (1.25, True, ">= 1.00")
    assert ttfb.met is None and ttfb.goal_text == ""
    assert (cargo.ratio, cargo.advantage, cargo.met) == (None, None, None)
    with pytest.raises(ValueError):
        Figure("x", 1.0, "y", 1.0, "ms", better="faster")


def test_the_markdown_has_a_table_per_group_with_ratios_and_goals():
    text = render_markdown(FIGURES, runs=[ModuleRun("bench.asgi", 12.3)], header=["one run"])
    assert text.startswith("# lambdastream benchmarks\n\none run\n")
    assert "![" in text and "(ratios.png)" in text
    asgi = rows(text, "ASGI")
    assert asgi[0] == [
        "cold start (median) (lower is better)", "100 ms", "uvicorn + proxy", "200 ms", "0.50",
        "<= 0.67", "2.00x", "yes",
    ]  # fmt: skip
    assert asgi[1][4:] == ["1.06", "<= 1.05", "0.94x", "**no**"]
    relay_rows = rows(text, "relay")
    assert relay_rows[0][1:4] == ["250,000 chunks/s", "node", "200,000 chunks/s"]
    assert relay_rows[1][4:] == ["0.50", "", "2.00x", ""]  # no goal: nothing met or missed
    assert relay_rows[2][3:] == ["not run", "", ">= 1.00", "", ""]
    assert "- chunks/s vs cargo-lambda: not run: cargo is not installed" in text
    assert "**Goals met: 2 of 3.**" in text
    assert "- missed: ASGI: cold start (median) vs Mangum" in text
    assert "| `bench.asgi` | 12 | ok |" in text
    assert render_markdown(FIGURES) == render_markdown(FIGURES)  # pure


def test_the_report_writes_markdown_and_a_png(tmp_path):
    markdown, chart = write_report(FIGURES, tmp_path / "report", header=["synthetic"])
    assert markdown == tmp_path / "report" / "README.md"
    assert "synthetic" in markdown.read_text()
    data = chart.read_bytes()
    assert chart.name == "ratios.png" and data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000
    # --replot rewrites the same report from the figures saved beside it
    text = markdown.read_text()
    markdown.unlink()
    chart.unlink()
    assert report.main(["--replot", "--out", str(tmp_path / "report")]) == 0
    assert markdown.read_text() == text and chart.exists()


def test_the_report_is_written_when_nothing_was_measured(tmp_path):
    nothing = [Figure("chunks/s", None, "node", None, "chunks/s", note="not run: no node")]
    markdown, chart = write_report(nothing, tmp_path, runs=[ModuleRun("bench.relay", 1, "boom")])
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "| `bench.relay` | 1 | failed: boom |" in markdown.read_text()


def test_relay_figures_mark_what_did_not_run():
    t = relay.Throughput(rate=200_000.0, server_cpu=0.5, runtime_cpu=0.4)
    assert t.runtime_cpu_per_item == pytest.approx(2.0)
    ttfb = {"lambdastream": (0.45, 0.9, 0, 0.44), "floor": (0.4, 0.7, 0, 0.39)}
    small = {"lambdastream": t, "floor": t, "floor, batched": t}
    large = {"lambdastream": t, "floor": t}
    got = relay.relay_figures(ttfb, small, large, {"node": "not installed"})
    by_name = {(f.group, f.name, f.peer_name): f for f in got}
    budget = by_name["relay: sync generator", "TTFB (p50)", "floor + 1 ms"]
    assert budget.peer == pytest.approx(1.4) and budget.met
    node = by_name["relay: sync generator", "TTFB (p50)", "node"]
    assert node.peer is None and node.note == "not installed"
    cargo = [f for f in got if f.peer_name == "cargo-lambda"]
    assert cargo and all(f.peer is None for f in cargo)


class FakeApp:
    """An app connection whose reads come in the given pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.buf = b""
        self.pieces = list(pieces)

    def recv(self) -> bytes:
        return self.pieces.pop(0)


@pytest.mark.parametrize("split", [1, 3, 7, 1000])
def test_the_adapter_model_relays_each_read_of_a_chunked_body_as_one_chunk(split):
    body = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nx-t: 1\r\n\r\nNEXT"
    app = FakeApp([body[i : i + split] for i in range(0, len(body), split)])
    sent: list[bytes] = []
    lwa_model.relay_chunked(app, sent.append)  # type: ignore[arg-type]
    payloads = []
    for frame in sent:
        size, _, rest = frame.partition(b"\r\n")
        assert rest[int(size, 16) :] == b"\r\n"
        payloads.append(rest[: int(size, 16)])
    assert b"".join(payloads) == b"hello world!"
    assert all(payloads)  # no empty chunk: that would end the stream
    assert app.buf + b"".join(app.pieces) == b"NEXT"  # what follows stays unread
    if split == 1000:
        assert len(sent) == 1  # one read, one chunk


def test_the_adapter_model_builds_the_request_the_adapter_sends():
    event = {
        "rawPath": "/a b", "rawQueryString": "x=1", "cookies": ["s=1", "t=2"],
        "headers": {"host": "h"}, "body": "aGk=", "isBase64Encoded": True,
        "requestContext": {"http": {"method": "POST"}},
    }  # fmt: skip
    head, _, data = lwa_model.to_request(event, {"request_id": "r1"}).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /a b?x=1 HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["cookie"] == "s=1; t=2" and fields["content-length"] == "2"
    assert json.loads(fields["x-amzn-lambda-context"]) == {"request_id": "r1"}
    assert data == b"hi"


def test_the_asgi_bench_pins_its_contenders_only_when_asked():
    from bench import asgi

    cmd = ["python", "-m", "lambdastream.runtime", "app.app"]
    assert asgi.pinned(cmd, None) == cmd
    assert asgi.pinned(cmd, [0, 2]) == ["taskset", "-c", "0,2", *cmd]
    assert asgi.cpu_sets(None) == (None, None)
    lwa = asgi.command(asgi.Contender(asgi.LWA, "app:app"), [1])
    assert lwa[:4] == ["taskset", "-c", "1", "/bin/sh"]  # the shell, uvicorn and the proxy
    with pytest.raises(SystemExit):
        asgi.cpu_sets(10_000)
    # the report measures the ASGI cold start once more on one CPU, as its own entry
    assert "bench.asgi --cpus 1" in report._modules(quick=True)
