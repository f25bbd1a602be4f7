"""The chat page in a real browser (Debian's chromium, driven by Playwright).

A person opens the page served by ``lambdastream dev``, types a prompt and
presses Send; the streamed answer must appear, and grow, while the buffered
pane is still empty, and the figures must say why: the streamed answer's
first byte came sooner.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from support import find_chromium, missing

REPO = Path(__file__).resolve().parents[2]
# About 60 words: at the scripted model's 50 tokens a second the answer takes
# over a second, long enough to watch it grow.
PROMPT = " ".join(
    ["Streaming lets a person start reading the answer while the model is still writing it"] * 4
)

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    chromium = find_chromium()
    if chromium is None:
        missing("Debian's chromium", "make system-deps installs it")
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright", "make install installs it")
    with sync_api.sync_playwright() as playwright:
        # Debian's chromium, never a downloaded one; no network beyond loopback.
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def chat(dev_server):
    return dev_server(
        "examples.chat.app.handler", REPO, "--bedrock-local", "--name", "chat", "--timeout", "60",
        env={"LAMBDASTREAM_BEDROCK_SCRIPT": "echo"},  # exact text to assert
    )  # fmt: skip


# Records every change of the two answer panes, with a timestamp, from
# before Send is pressed: the test reads the order of events afterwards.
RECORDER = """() => {
  window.__snapshots = [];
  const take = () => window.__snapshots.push({
    t: performance.now(),
    stream: document.getElementById('stream-output').textContent.length,
    buffered: document.getElementById('buffered-output').textContent.length,
  });
  const observer = new MutationObserver(take);
  for (const id of ['stream-output', 'buffered-output']) {
    observer.observe(document.getElementById(id),
                     {childList: true, subtree: true, characterData: true});
  }
}"""


def figure(page, element_id: str) -> float:
    raw = page.get_attribute(f"#{element_id}", "data-ms")
    assert raw, f"#{element_id} has no figure"
    return float(raw)


@pytest.mark.timeout(120)
def test_streamed_answer_arrives_first_and_grows_while_buffered_waits(chat, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    posts = record_posts(page)

    page.goto(chat.url + "/")
    assert page.title().startswith("lambdastream chat")
    page.evaluate(RECORDER)
    page.fill("#prompt", PROMPT)
    page.click("#send")

    # The moment the streaming pane shows text, the buffered one shows nothing.
    buffered_then = page.wait_for_function(
        """() => document.getElementById('stream-output').textContent.length > 0
                 && {buffered: document.getElementById('buffered-output').textContent.length}""",
        timeout=30_000,
    ).json_value()
    assert buffered_then == {"buffered": 0}

    page.wait_for_function(
        """() => ['stream-pane', 'buffered-pane'].every(
                 id => document.getElementById(id).dataset.state === 'done')""",
        timeout=60_000,
    )
    page.screenshot(path=str(tmp_path / "chat-page.png"), full_page=True)

    # Progressive: several different partial lengths were on screen while
    # the buffered pane was still empty.
    snapshots = page.evaluate("window.__snapshots")
    final = page.text_content("#stream-output")
    partial = {
        s["stream"] for s in snapshots if 0 < s["stream"] < len(final) and s["buffered"] == 0
    }
    assert len(partial) >= 3, snapshots
    first_buffered = next(s["t"] for s in snapshots if s["buffered"] > 0)
    first_streamed = next(s["t"] for s in snapshots if s["stream"] > 0)
    assert first_streamed < first_buffered

    # Both panes show the same answer, rendered the same way.
    assert final.startswith("You said: Streaming lets a person")
    assert page.inner_html("#stream-output") == page.inner_html("#buffered-output")

    # Plausible figures: all positive, first byte before total, and the
    # streamed first byte well ahead of the buffered one.
    stream_ttfb, stream_total = figure(page, "stream-ttfb"), figure(page, "stream-total")
    buffered_ttfb, buffered_total = figure(page, "buffered-ttfb"), figure(page, "buffered-total")
    assert 0 < stream_ttfb <= stream_total
    assert 0 < buffered_ttfb <= buffered_total
    assert stream_ttfb < buffered_ttfb
    assert page.text_content("#stream-ttfb").endswith(("ms", " s"))
    assert page.is_hidden("#stream-error") and page.is_hidden("#buffered-error")
    assert console_errors == []

    # Both requests carry the SHA-256 of the bytes they sent, as CloudFront's
    # origin access control needs it to sign them for Lambda.
    assert sorted(request.url.endswith("?mode=buffered") for request in posts) == [False, True]
    for request in posts:
        assert json.loads(request.post_data_buffer)["prompt"] == PROMPT
        assert_payload_hash(request)


def record_posts(page) -> list:
    """The page's POST requests, as the browser sent them (collected as they go)."""
    posts: list = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    return posts


def assert_payload_hash(request) -> None:
    body = request.post_data_buffer
    sent = request.all_headers().get("x-amz-content-sha256")
    assert sent == hashlib.sha256(body).hexdigest(), (sent, body)


@pytest.mark.timeout(120)
def test_payload_hash_is_of_the_utf8_bytes_sent(chat, browser):
    # Characters outside ASCII take 2 to 4 bytes each: a hash of anything but
    # the exact bytes sent (the string's UTF-16 units, or a re-serialized
    # body) would differ, and CloudFront's signature with it would fail.
    prompt = "Grüße aus Köln, 東京からこんにちは 🌸"
    page = browser.new_page()
    posts = record_posts(page)
    page.goto(chat.url + "/")
    page.fill("#prompt", prompt)
    page.click("#send")
    page.wait_for_function(
        """() => ['stream-pane', 'buffered-pane'].every(
                 id => document.getElementById(id).dataset.state === 'done')""",
        timeout=60_000,
    )
    assert page.text_content("#stream-output") == f"You said: {prompt}"
    assert page.text_content("#buffered-output") == f"You said: {prompt}"
    assert len(posts) == 2
    for request in posts:
        assert json.loads(request.post_data_buffer.decode("utf-8"))["prompt"] == prompt
        assert_payload_hash(request)


@pytest.mark.timeout(120)
def test_mid_stream_error_is_shown_in_the_streaming_pane(chat, browser):
    page = browser.new_page()
    page.goto(chat.url + "/")
    page.fill("#prompt", "one two three four five six seven [[stream-error:3]]")
    page.click("#send")
    page.wait_for_function(
        """() => document.getElementById('stream-pane').dataset.state === 'error'
                 && document.getElementById('buffered-pane').dataset.state === 'error'""",
        timeout=60_000,
    )
    # The streamed part stays readable; the error says the answer is cut.
    assert page.text_content("#stream-output").startswith("You said:")
    assert "incomplete" in page.text_content("#stream-error")
    # The buffered request fails as a whole, with a status.
    assert page.text_content("#buffered-error").startswith("HTTP 502")


@pytest.mark.timeout(120)
def test_input_error_is_shown_not_thrown(chat, browser):
    page = browser.new_page()
    page.goto(chat.url + "/")
    page.fill("#prompt", "hello")
    page.fill("#max-tokens", "999999")
    page.click("#send")
    # Both requests are refused; once both have answered, Send works again.
    page.wait_for_function(
        """() => ['stream-pane', 'buffered-pane'].every(
                     id => document.getElementById(id).dataset.state === 'error')
                 && !document.getElementById('send').disabled""",
        timeout=30_000,
    )
    for pane in ("stream", "buffered"):
        error = page.text_content(f"#{pane}-error")
        assert error.startswith("HTTP 400: max_tokens is 999999"), error
        assert page.text_content(f"#{pane}-output") == ""


MARKDOWN_CASES = [
    ("**bold** and *it*", "<p><strong>bold</strong> and <em>it</em></p>"),
    ("# Title", "<h1>Title</h1>"),
    ("- a\n- b", "<ul><li>a</li><li>b</li></ul>"),
    ("3. c\n4. d", '<ol start="3"><li>c</li><li>d</li></ol>'),
    ("use `x < y`", "<p>use <code>x &lt; y</code></p>"),
    (
        "```py\nif a<b:\n  pass\n```",
        '<pre><code class="language-py">if a&lt;b:\n  pass</code></pre>',
    ),
    ("```\nstill streaming", "<pre><code>still streaming</code></pre>"),
    ("> quoted", "<blockquote><p>quoted</p></blockquote>"),
    ("snake_case_name stays", "<p>snake_case_name stays</p>"),
    (
        "[site](https://example.com/?a=1&b=2)",
        '<p><a href="https://example.com/?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">site</a></p>',
    ),
]
# Untrusted text: nothing the model writes becomes markup or script.
HOSTILE_CASES = [
    ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    ("[click](javascript:void0)", "<p>click</p>"),
    ("[click](javascript:alert(1))", "<p>[click](javascript:alert(1))</p>"),
    ('[x](https://a.b/"onmouseover="alert(1))', None),
    ("`<script>`", "<p><code>&lt;script&gt;</code></p>"),
]
MARKDOWN_CASES += HOSTILE_CASES


@pytest.mark.timeout(60)
def test_markdown_renderer_in_the_page(chat, browser):
    page = browser.new_page()
    page.goto(chat.url + "/")
    for source, expected in MARKDOWN_CASES:
        html = page.evaluate("(s) => window.renderMarkdown(s)", source)
        if expected is not None:
            assert html == expected, (source, html)
        assert "<script" not in html and "<img" not in html
        assert 'onmouseover="' not in html
    # Rendered into the DOM, the hostile cases create no element beyond ours.
    tags = page.evaluate(
        """(cases) => cases.map(s => {
             const div = document.createElement('div');
             div.innerHTML = window.renderMarkdown(s);
             return [...div.querySelectorAll('*')].map(e => e.tagName.toLowerCase());
           })""",
        [case for case, _ in HOSTILE_CASES],
    )
    assert all(set(t) <= {"p", "a", "code"} for t in tags), tags


@pytest.mark.timeout(120)
def test_only_the_pane_title_says_it_is_busy(dev_server, browser):
    # The answer is Markdown (the default script writes headings): its own
    # headings must not carry the pane's "…".
    chat = dev_server("examples.chat.app.handler", REPO, "--bedrock-local", "--timeout", "60")
    page = browser.new_page()
    page.goto(chat.url + "/")
    page.fill("#prompt", "[[latency:0.5]] Why stream?")
    page.click("#send")
    page.wait_for_function(
        "() => document.querySelector('#stream-pane').dataset.state === 'waiting'", timeout=30_000
    )
    after = "(selector) => getComputedStyle(document.querySelector(selector), '::after').content"
    assert page.evaluate(after, "#stream-pane > h2") == '" …"'
    page.wait_for_function(
        "() => document.querySelector('#stream-output h2') !== null"
        " && document.querySelector('#stream-pane').dataset.state === 'streaming'",
        timeout=30_000,
    )
    assert page.evaluate(after, "#stream-output h2") in ("none", "normal")
