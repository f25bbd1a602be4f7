/*
 * The comparison page: one prompt, two requests fired at the same moment.
 *
 * - Streaming pane: POST with `Accept: text/event-stream`; the body is read
 *   with a ReadableStream reader, so each event is rendered the moment it
 *   arrives (fetch().text() would wait for the end, like the buffered pane).
 * - Buffered pane: the same POST with `?mode=buffered`.
 *
 * Both panes time the same way: from just before fetch() to the first body
 * bytes (first byte) and to the end of the body (total). Requests go to the
 * URL the page came from, so the page works under `lambdastream dev`, at a
 * deployed Function URL and behind CloudFront alike.
 *
 * Each POST carries `x-amz-content-sha256`, the SHA-256 of its exact body
 * bytes: behind CloudFront with origin access control, CloudFront signs the
 * request to the Function URL with that hash, and Lambda refuses a POST
 * without it (it takes no unsigned payload). Only the sender can compute it.
 */
(function () {
  "use strict";

  const endpoint = new URL("./", window.location.href);
  const $ = (id) => document.getElementById(id);

  function formatMs(ms) {
    return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(2) + " s";
  }

  /* One answer pane: its figures, its rendered text, its state. */
  class Pane {
    constructor(prefix) {
      this.root = $(prefix + "-pane");
      this.ttfb = $(prefix + "-ttfb");
      this.total = $(prefix + "-total");
      this.size = $(prefix + "-size");
      this.output = $(prefix + "-output");
      this.error = $(prefix + "-error");
      this.text = "";
      this.pending = false;
    }

    reset() {
      this.text = "";
      this.tokens = undefined; // the last answer's count is not this one's
      for (const el of [this.ttfb, this.total]) {
        el.textContent = "–";
        el.dataset.ms = "";
      }
      this.size.textContent = "–";
      this.output.innerHTML = "";
      this.error.hidden = true;
      this.error.textContent = "";
      this.root.dataset.state = "waiting";
    }

    firstByte(ms) {
      this.ttfb.textContent = formatMs(ms);
      this.ttfb.dataset.ms = ms.toFixed(1);
      this.root.dataset.state = "streaming";
    }

    append(text) {
      this.text += text;
      // Re-render at most once a frame: a fast stream must not re-parse per token.
      if (!this.pending) {
        this.pending = true;
        requestAnimationFrame(() => {
          this.pending = false;
          this.render();
        });
      }
    }

    render() {
      this.output.innerHTML = window.renderMarkdown(this.text);
      this.size.textContent = this.text.length + " chars" + (this.tokens ? " · " + this.tokens + " tokens" : "");
    }

    finish(ms, tokens) {
      this.tokens = tokens;
      this.render();
      this.total.textContent = formatMs(ms);
      this.total.dataset.ms = ms.toFixed(1);
      if (this.root.dataset.state !== "error") this.root.dataset.state = "done";
    }

    fail(message) {
      this.error.textContent = message;
      this.error.hidden = false;
      this.root.dataset.state = "error";
    }
  }

  /* Incremental Server-Sent Events parser (the parts of the spec the function uses). */
  class SseParser {
    constructor() {
      this.buffer = "";
      this.event = "";
      this.data = [];
    }

    feed(text) {
      this.buffer += text;
      const events = [];
      let match;
      const lineEnd = /\r\n|\n|\r(?!$)/g;
      let start = 0;
      while ((match = lineEnd.exec(this.buffer))) {
        const line = this.buffer.slice(start, match.index);
        start = lineEnd.lastIndex;
        if (line === "") {
          if (this.data.length) events.push({ event: this.event || "message", data: this.data.join("\n") });
          this.event = "";
          this.data = [];
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") this.event = value;
        else if (field === "data") this.data.push(value);
      }
      this.buffer = this.buffer.slice(start);
      return events;
    }
  }

  async function errorText(response) {
    const body = await response.text();
    try {
      const parsed = JSON.parse(body);
      if (parsed && parsed.error && parsed.error.message) return parsed.error.message;
    } catch (_) {
      /* not JSON: show it as it came */
    }
    return body || response.statusText;
  }

  /*
   * The request body as the bytes sent, with the header giving their SHA-256.
   * crypto.subtle exists only in secure contexts (https, localhost): on a
   * plain-http address the hash is left out, which only CloudFront needs.
   */
  async function hashedBody(text) {
    const bytes = new TextEncoder().encode(text);
    if (!(window.crypto && window.crypto.subtle)) return { bytes: bytes, headers: {} };
    const digest = new Uint8Array(await window.crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    return { bytes: bytes, headers: { "x-amz-content-sha256": hex } };
  }

  /* POST the request; call onText for each decoded piece of the body. */
  async function post(url, body, headers, pane, onText) {
    const started = performance.now();
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: Object.assign({ "content-type": "application/json" }, body.headers, headers),
        body: body.bytes,
        cache: "no-store",
      });
    } catch (err) {
      pane.fail("Could not reach the function: " + err.message);
      pane.finish(performance.now() - started);
      return;
    }
    if (!response.ok) {
      const message = await errorText(response);
      pane.firstByte(performance.now() - started);
      pane.fail("HTTP " + response.status + ": " + message);
      pane.finish(performance.now() - started);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let first = true;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!value || !value.byteLength) continue;
        if (first) {
          first = false;
          pane.firstByte(performance.now() - started);
        }
        onText(decoder.decode(value, { stream: true }));
      }
      onText(decoder.decode());
    } catch (err) {
      pane.fail("The connection broke: " + err.message);
    }
    return { total: performance.now() - started, headers: response.headers };
  }

  async function runStreaming(body, pane) {
    const parser = new SseParser();
    let tokens;
    let ended = false;
    const result = await post(endpoint, body, { accept: "text/event-stream" }, pane, (text) => {
      for (const event of parser.feed(text)) {
        if (event.event === "text") {
          pane.append(event.data);
        } else if (event.event === "done") {
          ended = true;
          try {
            tokens = JSON.parse(event.data).output_tokens;
          } catch (_) {
            /* usage is a nicety */
          }
        } else if (event.event === "error") {
          ended = true;
          let message = event.data;
          try {
            message = JSON.parse(event.data).message || message;
          } catch (_) {
            /* plain text error */
          }
          pane.fail(message);
        }
      }
    });
    if (result === undefined) return;
    if (!ended && pane.root.dataset.state !== "error") {
      pane.fail("The stream ended early: the answer may be incomplete.");
    }
    pane.finish(result.total, tokens);
  }

  async function runBuffered(body, pane) {
    const url = new URL(endpoint);
    url.searchParams.set("mode", "buffered");
    const result = await post(url, body, { accept: "text/plain" }, pane, (text) => pane.append(text));
    if (result !== undefined) pane.finish(result.total, result.headers.get("x-output-tokens"));
  }

  const streaming = new Pane("stream");
  const buffered = new Pane("buffered");
  const form = $("ask");
  const send = $("send");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = $("prompt").value.trim();
    if (!prompt) return;
    const request = { prompt: prompt };
    const maxTokens = parseInt($("max-tokens").value, 10);
    if (maxTokens > 0) request.max_tokens = maxTokens;
    send.disabled = true;
    // Hashed once, before either request starts its clock.
    const body = await hashedBody(JSON.stringify(request));
    streaming.reset();
    buffered.reset();
    // Fired together so that both answers race from the same moment.
    await Promise.allSettled([runStreaming(body, streaming), runBuffered(body, buffered)]);
    send.disabled = false;
  });

  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
})();
