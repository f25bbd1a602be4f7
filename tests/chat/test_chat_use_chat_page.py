"""A useChat page in a real browser (Debian's chromium, Playwright) against the live /api/chat.

The page (``tests/chat/pages/use-chat.html``) has no build step: it imports
the AI SDK's ESM build (npm ``ai`` 7, from ``tests/peers/ai-sdk``) through an
import map, and runs ``AbstractChat``, the core ``useChat`` wraps, with
``DefaultChatTransport``, rendering on each state change. A small static
server on loopback serves it; ``lambdastream dev`` serves the chat on
another port, so the page's requests are cross-origin, as a page on its own
site calling a Function URL is: dev answers them with a Function URL's CORS
configuration (``--cors-origin``, ``--cors-headers``), answering the
preflight itself as Lambda does. Without one the preflight goes to the
function, which allows no ``OPTIONS``, and the browser never sends the chat.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support import DevServer, find_chromium, missing, start_dev

REPO = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).resolve().parent / "pages"
PEER = REPO / "tests" / "peers" / "ai-sdk"
# ~200 tokens from the scripted model: about 3 s at its 65 tokens a second.
QUESTION = "Why does streaming matter?"
WEATHER = {"city": "Paris", "temperatureC": 21, "conditions": "sunny"}  # what the page's tool says

pytestmark = [pytest.mark.browser, pytest.mark.node]


# ------------------------------------------------------------- the page
def import_map() -> dict[str, Any]:
    """The page's import map, and the module files it may load (browser-importmap.mjs)."""
    if shutil.which("node") is None:
        missing("node", "the AI SDK's import map is resolved with it; tools/install-ai-sdk.sh")
    if not (PEER / "node_modules" / "ai" / "package.json").is_file():
        missing("the npm package ai in tests/peers/ai-sdk", "tools/install-ai-sdk.sh")
    result = subprocess.run(
        ["node", "--conditions=browser", "--experimental-import-meta-resolve",
         str(PEER / "browser-importmap.mjs"), "--shim", "@vercel/oidc=/shims/vercel-oidc.js"],
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    out: dict[str, Any] = json.loads(result.stdout)
    # The one CommonJS package in ai's graph, replaced by tests/chat/pages/vercel-oidc.js.
    assert out["shimmed"] == {"@vercel/oidc": "/node_modules/@vercel/oidc/dist/index-browser.js"}
    return out


class PageServer(ThreadingHTTPServer):
    """The page, the shim and ai's module files (those in its graph only), on loopback."""

    daemon_threads = True

    def __init__(self, resolved: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), PageHandler)
        html = (PAGES / "use-chat.html").read_text()
        tag = f'<script type="importmap">{json.dumps(resolved["importMap"])}</script>'
        self.routes: dict[str, tuple[bytes, str]] = {
            "/": (html.replace("<!-- importmap -->", tag).encode(), "text/html; charset=utf-8"),
            "/shims/vercel-oidc.js": ((PAGES / "vercel-oidc.js").read_bytes(), "text/javascript"),
        }
        for name in resolved["files"]:
            path = PEER / "node_modules" / name
            self.routes[f"/node_modules/{name}"] = (path.read_bytes(), "text/javascript")
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        found = self.server.routes.get(self.path.split("?")[0])
        body, media_type = found or (b"not found", "text/plain")
        self.send_response(200 if found else 404)
        self.send_header("content-type", media_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    server = PageServer(import_map())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def chat(page_server) -> Iterator[DevServer]:
    """The chat, allowing the page's origin as a Function URL's Cors config would."""
    server = start_dev(
        "examples.chat.app.handler", REPO, "--bedrock-local", "--timeout", "60",
        "--cors-origin", page_server.origin, "--cors-methods", "POST",
        "--cors-headers", "content-type",
    )  # fmt: skip
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
        # Debian's chromium, never a downloaded one; no network beyond loopback.
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield browser
        browser.close()


# Every change of the rendered messages, with a timestamp, from before Send.
RECORDER = """() => {
  window.__snapshots = [];
  const messages = document.getElementById('messages');
  new MutationObserver(() => {
    const texts = [...messages.querySelectorAll('[data-role=assistant] .text')];
    window.__snapshots.push({
      t: performance.now(),
      length: texts.reduce((n, p) => n + p.textContent.length, 0),
      status: document.getElementById('status').dataset.status,
    });
  }).observe(messages, {childList: true, subtree: true, characterData: true});
}"""

SETTLED = """() => document.getElementById('status').dataset.status === 'ready'
    && document.querySelectorAll('[data-role=assistant]').length > 0
    && !document.querySelector('.tool[data-state^=input]')"""


def open_page(browser, page_server: PageServer, api: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{page_server.origin}/?api={api}", timeout=30_000)
    page.wait_for_function("() => window.chatReady === true", timeout=30_000)
    assert errors == []
    page.evaluate(RECORDER)
    return page


def ask(page, question: str) -> None:
    page.fill("#prompt", question)
    page.click("#send")


def streamed_text(url: str, question: str) -> str:
    """The same answer read without a browser: the text deltas of /api/chat, joined."""
    body = json.dumps({
        "id": "chat-check", "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": question}]}],
    }).encode()  # fmt: skip
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    text = []
    with urllib.request.urlopen(request, timeout=60) as response:
        for line in response:
            if line.startswith(b"data: {"):
                chunk = json.loads(line[6:])
                if chunk["type"] == "text-delta":
                    text.append(chunk["delta"])
    return "".join(text)


# ---------------------------------------------------------------- tests
@pytest.mark.timeout(120)
def test_the_page_renders_the_answer_as_it_streams(browser, page_server, chat):
    page = open_page(browser, page_server, f"{chat.url}/api/chat")
    ask(page, QUESTION)
    page.wait_for_function(SETTLED, timeout=60_000)
    assert page.text_content("#error") == ""
    snapshots = page.evaluate("window.__snapshots")
    final = page.eval_on_selector_all(
        "[data-role=assistant] .text", "ps => ps.map(p => p.textContent).join('')"
    )
    assert final == streamed_text(f"{chat.url}/api/chat", QUESTION)
    # The text grew in the DOM while the answer streamed, not all at the end.
    partial = [s for s in snapshots if 0 < s["length"] < len(final)]
    assert len({s["length"] for s in partial}) >= 2, snapshots
    assert all(s["status"] == "streaming" for s in partial)
    assert snapshots[-1]["t"] - partial[0]["t"] >= 500, (partial[0], snapshots[-1])
    lengths = [s["length"] for s in snapshots if s["length"]]
    assert lengths == sorted(lengths) and lengths[-1] == len(final)
    # The preflight was the Function URL's to answer (--cors-*): the function saw the POST only.
    logs = chat.logs()
    assert '"method": "OPTIONS"' not in logs
    assert '"method": "POST", "path": "/api/chat", "mode": "ui-stream", "status": 200' in logs
    page.close()


@pytest.mark.timeout(120)
def test_the_page_runs_get_weather_and_the_answer_continues_its_message(browser, page_server, chat):
    page = open_page(browser, page_server, f"{chat.url}/api/chat")
    ask(page, "What's the weather in Paris?")
    page.wait_for_function(
        SETTLED + " && document.querySelectorAll('[data-role=assistant] .text').length === 2",
        timeout=60_000,
    )
    assert page.text_content("#error") == ""
    assert page.evaluate("window.toolRuns") == ["Paris"]
    # One assistant message: the preface, the tool's part with its output, the answer.
    assert page.locator("[data-role=assistant]").count() == 1
    tool = page.locator("[data-role=assistant] .tool")
    assert tool.get_attribute("data-tool") == "get_weather"
    assert tool.get_attribute("data-state") == "output-available"
    assert json.loads(tool.text_content()) == {"input": {"city": "Paris"}, "output": WEATHER}
    answer = page.locator("[data-role=assistant] .text").nth(1).text_content()
    assert '"temperatureC":21' in answer.replace(" ", "")
    state = page.evaluate("() => window.chat.messages.map(m => [m.role, m.parts.map(p => p.type)])")
    assert state == [
        ["user", ["text"]],
        ["assistant", ["step-start", "text", "tool-get_weather", "step-start", "text"]],
    ]
    page.close()


@pytest.mark.timeout(120)
def test_without_a_cors_config_the_browser_refuses_the_answer(browser, page_server):
    # No Cors config: the preflight goes to the function, which allows no OPTIONS
    # (405 with no CORS headers), so the browser never sends the POST.
    plain = start_dev("examples.chat.app.handler", REPO, "--bedrock-local", "--timeout", "60")
    try:
        page = open_page(browser, page_server, f"{plain.url}/api/chat")
        ask(page, QUESTION)
        page.wait_for_function(
            "() => document.getElementById('status').dataset.status === 'error'", timeout=30_000
        )
        assert page.text_content("#error") == "Failed to fetch"  # chromium's TypeError
        assert page.locator("[data-role=assistant]").count() == 0
        plain.wait_for_log(r'"method": "OPTIONS", "path": "/api/chat", "status": 405')
        assert '"method": "POST"' not in plain.logs()
        page.close()
    finally:
        plain.stop()
