"""The demo as a newcomer meets it: `make demo`'s own command, a fresh page, the first Send.

The streamed answer's first byte must arrive before the buffered answer's,
every time, on a page opened for the occasion (a fresh page paid for a cold
start or a lazily built client once: the buffered answer won). The command
is read from the Makefile's demo target, so the test runs what `make demo`
runs.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from support import DevServer, find_chromium, missing, start_dev

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


def demo_arguments() -> list[str]:
    """`make demo`'s lambdastream dev arguments, ports left to the test."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"\n\t\$\(VENV\)/bin/lambdastream dev (.*?)\n\n", makefile, re.S)
    assert recipe, "the Makefile's demo target runs lambdastream dev"
    words = shlex.split(recipe.group(1).replace("\\\n", " "))
    handler, *flags = words
    out = []
    skip = False
    for word in flags:
        if skip:
            skip = False
            continue
        if word in ("--port", "--api-port", "--root"):  # the test chooses these
            skip = True
            continue
        out.append(word)
    return [handler, *out]


@pytest.fixture(scope="module")
def demo():
    handler, *flags = demo_arguments()
    server: DevServer = start_dev(handler, REPO, *flags)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        missing("Debian's chromium", "make system-deps installs it")
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright", "make install installs it")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield browser
        browser.close()


def _send(page, prompt: str) -> None:
    page.fill("#prompt", prompt)
    page.click("#send")
    page.wait_for_function(
        """() => ['stream-pane', 'buffered-pane'].every(
                 id => document.getElementById(id).dataset.state === 'done')""",
        timeout=60_000,
    )


def _ms(page, element_id: str) -> float:
    return float(page.get_attribute(f"#{element_id}", "data-ms"))


def test_make_demo_provisions_its_environments():
    assert "--provisioned" in demo_arguments()


@pytest.mark.timeout(180)
def test_on_a_fresh_page_the_first_send_streams_first(demo, browser):
    for round_ in range(3):
        context = browser.new_context()  # a fresh page: nothing cached, nothing warm in it
        page = context.new_page()
        page.goto(demo.url + "/")
        _send(page, f"Why does streaming matter? (round {round_})")
        stream_ttfb, buffered_ttfb = _ms(page, "stream-ttfb"), _ms(page, "buffered-ttfb")
        assert stream_ttfb < buffered_ttfb, (round_, stream_ttfb, buffered_ttfb)
        context.close()


@pytest.mark.timeout(180)
def test_the_token_count_is_the_current_answers(demo, browser):
    page = browser.new_page()
    page.goto(demo.url + "/")
    _send(page, "First question")
    assert "tokens" in page.text_content("#stream-size")
    page.fill("#prompt", "Second question")
    page.click("#send")
    # While the second answer streams, the first answer's count is not shown.
    page.wait_for_function(
        "() => document.getElementById('stream-output').textContent.length > 0", timeout=30_000
    )
    assert "tokens" not in page.text_content("#stream-size")
