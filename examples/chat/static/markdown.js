/*
 * A small, safe Markdown renderer for model answers.
 *
 * Why not a library from a CDN: the page must work offline and be served by
 * the function alone. Why safe: the text comes from a model, which repeats
 * whatever a prompt asks, so it is untrusted. Every piece of input is
 * HTML-escaped before any markup is added, and only markup this file writes
 * reaches the page; link targets are limited to http(s) and mailto.
 *
 * Handles what chat answers use: paragraphs, headings, fenced code blocks,
 * inline code, bold, italic, bullet and numbered lists (one level), block
 * quotes, horizontal rules and links. An unclosed code fence (an answer still
 * streaming) renders as code up to the end.
 *
 *   renderMarkdown("**hi** <b>")  // -> "<p><strong>hi</strong> &lt;b&gt;</p>"
 */
(function (global) {
  "use strict";

  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  }

  // Placeholders for code spans use a private-use character the input
  // cannot carry (it is removed from the input first).
  const MARK = "\uE000";

  function isSafeUrl(url) {
    return /^(https?:\/\/|mailto:)/i.test(url);
  }

  function renderInline(raw) {
    let s = escapeHtml(raw);
    const codes = [];
    s = s.replace(/`([^`\n]+)`/g, (_, code) => {
      codes.push(code);
      return MARK + (codes.length - 1) + MARK;
    });
    s = s.replace(/\[([^\]\n]+)\]\(([^()\s]+)\)/g, (_, label, url) =>
      isSafeUrl(url)
        ? '<a href="' + url + '" target="_blank" rel="noopener noreferrer">' + label + "</a>"
        : label
    );
    s = s.replace(/\*\*(?=\S)([^*\n]*?\S)\*\*/g, "<strong>$1</strong>");
    s = s.replace(/__(?=\S)([^_\n]*?\S)__/g, "<strong>$1</strong>");
    s = s.replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])/g, "$1<em>$2</em>");
    s = s.replace(/(^|[^_\w])_(?=\S)([^_\n]*?\S)_(?![_\w])/g, "$1<em>$2</em>");
    return s.replace(new RegExp(MARK + "(\\d+)" + MARK, "g"), (_, i) => "<code>" + codes[+i] + "</code>");
  }

  const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;
  const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
  const QUOTE = /^\s{0,3}>\s?(.*)$/;
  const BULLET = /^\s*[-*+]\s+(.*)$/;
  const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;

  function renderMarkdown(markdown) {
    const lines = String(markdown)
      .replace(/\uE000/g, "")
      .replace(/\r\n?/g, "\n")
      .split("\n");
    const out = [];
    let paragraph = [];
    const flush = () => {
      if (paragraph.length) out.push("<p>" + renderInline(paragraph.join("\n")) + "</p>");
      paragraph = [];
    };

    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      let m;
      if ((m = FENCE.exec(line))) {
        flush();
        const fence = m[1];
        const code = [];
        while (++i < lines.length && !lines[i].trim().startsWith(fence)) code.push(lines[i]);
        const lang = m[2] ? ' class="language-' + escapeHtml(m[2]) + '"' : "";
        out.push("<pre><code" + lang + ">" + escapeHtml(code.join("\n")) + "</code></pre>");
      } else if ((m = HEADING.exec(line))) {
        flush();
        const level = m[1].length;
        out.push("<h" + level + ">" + renderInline(m[2]) + "</h" + level + ">");
      } else if (RULE.test(line)) {
        flush();
        out.push("<hr>");
      } else if (QUOTE.test(line)) {
        flush();
        const quoted = [];
        while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
          quoted.push(m[1]);
          i++;
        }
        i--;
        out.push("<blockquote>" + renderMarkdown(quoted.join("\n")) + "</blockquote>");
      } else if (BULLET.test(line) || NUMBERED.test(line)) {
        flush();
        const numbered = !BULLET.test(line);
        const pattern = numbered ? NUMBERED : BULLET;
        const start = numbered ? Number(NUMBERED.exec(line)[1]) : 1;
        const items = [];
        while (i < lines.length) {
          if ((m = pattern.exec(lines[i]))) {
            items.push(numbered ? m[2] : m[1]);
          } else if (items.length && /^\s{2,}\S/.test(lines[i])) {
            items[items.length - 1] += "\n" + lines[i].trim(); // a wrapped item
          } else {
            break;
          }
          i++;
        }
        i--;
        const tag = numbered ? "ol" : "ul";
        const startAttr = numbered && start !== 1 ? ' start="' + start + '"' : "";
        out.push(
          "<" + tag + startAttr + ">" +
          items.map((item) => "<li>" + renderInline(item) + "</li>").join("") +
          "</" + tag + ">"
        );
      } else if (!line.trim()) {
        flush();
      } else {
        paragraph.push(line);
      }
    }
    flush();
    return out.join("\n");
  }

  global.renderMarkdown = renderMarkdown;
  global.escapeHtml = escapeHtml;
})(window);
