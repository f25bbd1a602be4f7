// Reads a UI message stream response through the Vercel AI SDK's own client
// code, as useChat does: DefaultChatTransport (its fetch replaced by one that
// answers with the given bytes) posts the request and parses the response with
// parseJsonEventStream + uiMessageChunkSchema, and readUIMessageStream
// assembles the UIMessage, as processUIMessageStream does for useChat.
//
// stdin, JSON:
//   {"package": "ai" | "ai-v6" | "ai-v5",   // which installed major (default "ai")
//    "status": 200, "headers": {...},       // the response
//    "bodyBase64": "...",                   // the response body, exactly as sent
//    "messages": [UIMessage...],            // what the chat sends (default [])
//    "trigger": "submit-message", "body": {...}}  // extra body fields (optional)
// stdout, JSON:
//   {"version": "7.0.185",                  // the ai package read with
//    "request": {"url", "method", "headers", "body"},  // what the transport posted
//    "chunks": [...],                       // the chunks that passed the schema
//    "message": UIMessage | null,           // the last snapshot readUIMessageStream gave
//    "errors": ["..."],                     // errors it reported (error parts, bad chunks)
//    "thrown": "..." | null}                // what sendMessages threw (a non-2xx answer)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const input = JSON.parse(readFileSync(0, 'utf8'));
const pkg = input.package ?? 'ai';
if (!['ai', 'ai-v6', 'ai-v5'].includes(pkg)) throw new Error(`unknown package ${pkg}`);
const version = JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const { DefaultChatTransport, readUIMessageStream } = await import(pkg);

const out = { version, request: null, chunks: [], message: null, errors: [], thrown: null };
const transport = new DefaultChatTransport({
  api: 'https://function-url.invalid/api/chat',
  body: input.body,
  fetch: async (url, init) => {
    out.request = {
      url: String(url),
      method: init.method,
      headers: init.headers,
      body: JSON.parse(init.body),
    };
    return new Response(Buffer.from(input.bodyBase64 ?? '', 'base64'), {
      status: input.status ?? 200,
      headers: input.headers ?? {},
    });
  },
});

try {
  const chunks = await transport.sendMessages({
    chatId: 'chat-1',
    messages: input.messages ?? [],
    trigger: input.trigger ?? 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  const recorded = chunks.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        out.chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  for await (const message of readUIMessageStream({
    stream: recorded,
    onError: error => out.errors.push(String(error?.message ?? error).slice(0, 400)),
  })) {
    out.message = message;
  }
} catch (error) {
  out.thrown = String(error?.message ?? error);
}
process.stdout.write(JSON.stringify(out));
