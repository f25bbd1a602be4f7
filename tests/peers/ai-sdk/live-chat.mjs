// Talks to a live /api/chat (lambdastream dev) with the Vercel AI SDK's own
// client code, unchanged, over real HTTP:
//
// - mode "transport": DefaultChatTransport.sendMessages + readUIMessageStream,
//   as processUIMessageStream does for useChat. The question is sent; if the
//   answer holds a tool-get_weather part in state input-available and
//   "toolOutput" is given, the assistant message goes back with that part in
//   state output-available (trigger submit-message, messageId = its id, as
//   useChat's sendAutomaticallyWhen resubmits) and the answer is read into the
//   same message (readUIMessageStream's `message`).
// - mode "chat": AbstractChat, the class useChat (@ai-sdk/react) wraps, with a
//   plain in-memory ChatState: onToolCall answers get_weather with
//   addToolOutput (addToolResult in ai 5), sendAutomaticallyWhen =
//   lastAssistantMessageIsCompleteWithToolCalls sends it back. Then
//   "followUp", if given, is asked in the same chat (the history holds the
//   first exchange, tool parts included).
//
// stdin, JSON:
//   {"package": "ai" | "ai-v6" | "ai-v5", "mode": "transport" | "chat",
//    "api": "http://127.0.0.1:PORT/api/chat", "question": "...",
//    "toolOutput": {...} | null, "followUp": "..." | null, "timeoutMs": 60000}
// stdout, JSON:
//   {"version", "mode",
//    "requests": [{"url", "method", "body"}],        // what the SDK posted
//    "rounds": [{                                    // transport: one per request
//       "status", "startMessageId", "chunkTypes": [...],
//       "textDeltaAt": [ms, ...],                    // arrival of each text-delta chunk
//       "updates": [{"t": ms, "text": n}],           // snapshots whose text grew
//       "message": UIMessage | null, "errors": [...], "thrown": "..." | null}],
//    "chat": {"status", "error", "messages", "toolCalls", "updates", "statuses"}}  // chat
// Times are milliseconds since the request was sent (performance.now()).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const input = JSON.parse(readFileSync(0, 'utf8'));
const pkg = input.package ?? 'ai';
if (!['ai', 'ai-v6', 'ai-v5'].includes(pkg)) throw new Error(`unknown package ${pkg}`);
const version = JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const sdk = await import(pkg);
const { DefaultChatTransport, readUIMessageStream } = sdk;

const mode = input.mode ?? 'transport';
const out = { version, mode, requests: [], rounds: [], chat: null, thrown: null };
const timeoutMs = input.timeoutMs ?? 60_000;
const deadline = setTimeout(() => {
  out.thrown = `timed out after ${timeoutMs} ms`;
  finish(3);
}, timeoutMs);

function finish(code = 0) {
  clearTimeout(deadline);
  process.stdout.write(JSON.stringify(out), () => process.exit(code));
}

// The real fetch, over loopback; only what the SDK posted is written down.
const recordingFetch = async (url, init) => {
  out.requests.push({ url: String(url), method: init?.method, body: JSON.parse(init?.body ?? 'null') });
  return fetch(url, init);
};

const textLength = message =>
  (message?.parts ?? []).filter(p => p.type === 'text').reduce((n, p) => n + p.text.length, 0);

const user = text => ({ id: `user-${Math.random().toString(36).slice(2)}`, role: 'user', parts: [{ type: 'text', text }] });

async function round(transport, messages, { messageId, continued } = {}) {
  const record = {
    startMessageId: null, chunkTypes: [], textDeltaAt: [], updates: [], message: null, errors: [], thrown: null,
  };
  out.rounds.push(record);
  const t0 = performance.now();
  try {
    const chunks = await transport.sendMessages({
      chatId: 'chat-live',
      messages,
      trigger: 'submit-message',
      messageId,
      abortSignal: undefined,
    });
    const recorded = chunks.pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          record.chunkTypes.push(chunk.type);
          if (chunk.type === 'start') record.startMessageId = chunk.messageId ?? null;
          if (chunk.type === 'text-delta') record.textDeltaAt.push(performance.now() - t0);
          controller.enqueue(chunk);
        },
      }),
    );
    let shown = textLength(continued);
    for await (const message of readUIMessageStream({
      stream: recorded,
      message: continued,
      onError: error => record.errors.push(String(error?.message ?? error).slice(0, 400)),
    })) {
      const n = textLength(message);
      if (n > shown) record.updates.push({ t: performance.now() - t0, text: n });
      shown = n;
      record.message = message;
    }
  } catch (error) {
    record.thrown = String(error?.message ?? error);
  }
  return record;
}

async function viaTransport() {
  const transport = new DefaultChatTransport({ api: input.api, fetch: recordingFetch });
  const question = user(input.question);
  const first = await round(transport, [question]);
  const tool = first.message?.parts.find(p => p.type === 'tool-get_weather');
  if (!tool || tool.state !== 'input-available' || input.toolOutput == null) return;
  // What addToolOutput does to the part, then what sendAutomaticallyWhen posts.
  const answered = structuredClone(first.message);
  answered.parts = answered.parts.map(p =>
    p.toolCallId === tool.toolCallId ? { ...p, state: 'output-available', output: input.toolOutput } : p,
  );
  await round(transport, [question, answered], { messageId: answered.id, continued: structuredClone(answered) });
}

async function viaChat() {
  const t0 = performance.now();
  const updates = [];
  const statuses = [];
  const toolCalls = [];
  // What @ai-sdk/react's ReactChatState does, minus React.
  const state = {
    _status: 'ready',
    get status() { return this._status; },
    set status(s) { this._status = s; statuses.push({ t: performance.now() - t0, status: s }); },
    error: undefined,
    messages: [],
    pushMessage(m) { this.messages = this.messages.concat(m); this.seen(); },
    popMessage() { this.messages = this.messages.slice(0, -1); },
    replaceMessage(i, m) { this.messages = [...this.messages.slice(0, i), m, ...this.messages.slice(i + 1)]; this.seen(); },
    snapshot: value => structuredClone(value),
    seen() {
      const last = this.messages.at(-1);
      updates.push({ t: performance.now() - t0, id: last?.id, text: textLength(last), parts: last?.parts.length ?? 0 });
    },
  };
  let chat;
  const errors = [];
  chat = new sdk.AbstractChat({
    id: 'chat-live',
    transport: new DefaultChatTransport({ api: input.api, fetch: recordingFetch }),
    state,
    onError: error => errors.push(String(error?.message ?? error).slice(0, 400)),
    onToolCall: ({ toolCall }) => {
      toolCalls.push(structuredClone(toolCall));
      if (toolCall.toolName !== 'get_weather' || input.toolOutput == null) return;
      const add = chat.addToolOutput ?? chat.addToolResult;
      // Not awaited, as the SDK's docs say (onToolCall runs inside the stream's job).
      void add.call(chat, { tool: 'get_weather', toolCallId: toolCall.toolCallId, output: input.toolOutput });
    },
    sendAutomaticallyWhen: sdk.lastAssistantMessageIsCompleteWithToolCalls,
  });
  // The automatic resubmission runs inside sendMessage in every major; wait
  // for the chat to settle all the same.
  const settled = async () => {
    while (chat.status === 'submitted' || chat.status === 'streaming') await new Promise(r => setTimeout(r, 20));
  };
  await chat.sendMessage({ text: input.question });
  await settled();
  if (input.followUp && chat.status === 'ready') {
    await chat.sendMessage({ text: input.followUp });
    await settled();
  }
  out.chat = {
    status: chat.status,
    error: chat.error ? String(chat.error.message ?? chat.error) : null,
    errors,
    messages: chat.messages,
    toolCalls,
    updates,
    statuses,
  };
}

try {
  await (mode === 'chat' ? viaChat() : viaTransport());
} catch (error) {
  out.thrown = String(error?.stack ?? error);
}
finish(0);
