// Calls a live OpenAI-compatible endpoint (lambdastream dev's /v1) with the
// Vercel AI SDK's own provider and core, unchanged: createOpenAICompatible
// (@ai-sdk/openai-compatible) and streamText (ai, major 7), over real HTTP.
//
// stdin, JSON:
//   {"baseURL": "http://127.0.0.1:PORT/v1", "model": "...", "prompt": "...",
//    "apiKey": "...",                       // sent as Authorization: Bearer
//    "tool": {"name", "description", "schema"} | null,  // offered, no execute
//    "toolOutput": {...} | null,            // if given and the model called the
//                                           // tool: sent back, a second streamText
//    "timeoutMs": 60000}
// stdout, JSON:
//   {"versions": {"ai", "@ai-sdk/openai-compatible"},
//    "request": {"url", "headers", "body"},  // what the provider posted
//    "response": {"status", "contentType"},
//    "textAt": [ms, ...],                    // arrival of each textStream chunk
//    "text": "...", "finishReason": "...", "usage": {...}, "totalUsage": {...},
//    "toolCalls": [{"toolCallId", "toolName", "input", "invalid"}],
//    "followUp": {"request", "text", "finishReason", "toolCalls"} | null,
//    "errors": [...], "thrown": "..." | null}
// Times are milliseconds since streamText was called (performance.now()).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { jsonSchema, streamText, tool } from 'ai';

const here = dirname(fileURLToPath(import.meta.url));
const versionOf = pkg =>
  JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const input = JSON.parse(readFileSync(0, 'utf8'));
const out = {
  versions: { ai: versionOf('ai'), '@ai-sdk/openai-compatible': versionOf('@ai-sdk/openai-compatible') },
  request: null, response: null, textAt: [], text: '', finishReason: null, usage: null, totalUsage: null,
  toolCalls: [], followUp: null, errors: [], thrown: null,
};
const timeoutMs = input.timeoutMs ?? 60_000;
const abort = new AbortController();
const deadline = setTimeout(() => {
  out.thrown = `timed out after ${timeoutMs} ms`;
  abort.abort();
  finish(3);
}, timeoutMs);
function finish(code = 0) {
  clearTimeout(deadline);
  process.stdout.write(JSON.stringify(out), () => process.exit(code));
}

const provider = createOpenAICompatible({
  name: 'lambdastream',
  baseURL: input.baseURL,
  apiKey: input.apiKey,
  includeUsage: true,
  // The real fetch, over loopback; what was posted and answered is written down.
  fetch: async (url, init) => {
    out.request = { url: String(url), headers: init?.headers ?? {}, body: JSON.parse(init?.body ?? 'null') };
    const response = await fetch(url, init);
    out.response = { status: response.status, contentType: response.headers.get('content-type') };
    return response;
  },
});

try {
  const tools = input.tool
    ? {
        [input.tool.name]: tool({
          description: input.tool.description,
          inputSchema: jsonSchema(input.tool.schema),
          // No execute: the caller runs the tool; streamText stops at the call.
        }),
      }
    : undefined;
  const t0 = performance.now();
  const result = streamText({
    model: provider.chatModel(input.model),
    prompt: input.prompt,
    tools,
    maxRetries: 0,
    abortSignal: abort.signal,
    onError: ({ error }) => out.errors.push(String(error?.message ?? error).slice(0, 400)),
  });
  for await (const piece of result.textStream) {
    out.textAt.push(performance.now() - t0);
    out.text += piece;
  }
  out.finishReason = await result.finishReason;
  out.usage = await result.usage;
  out.totalUsage = await result.totalUsage;
  out.toolCalls = (await result.toolCalls).map(call => ({
    toolCallId: call.toolCallId,
    toolName: call.toolName,
    input: call.input,
    invalid: call.invalid ?? false,
    dynamic: call.dynamic ?? false,
  }));
  const call = out.toolCalls[0];
  if (call && input.toolOutput != null) {
    // The caller ran the tool: the conversation so far plus its result, as
    // the SDK's docs show for tools without execute.
    const first = out.request;
    const messages = [
      { role: 'user', content: input.prompt },
      ...(await result.response).messages,
      {
        role: 'tool',
        content: [{
          type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName,
          output: { type: 'json', value: input.toolOutput },
        }],
      },
    ];
    const again = streamText({
      model: provider.chatModel(input.model), messages, tools, maxRetries: 0, abortSignal: abort.signal,
      onError: ({ error }) => out.errors.push(String(error?.message ?? error).slice(0, 400)),
    });
    let text = '';
    for await (const piece of again.textStream) text += piece;
    out.followUp = {
      request: out.request, text, finishReason: await again.finishReason,
      toolCalls: (await again.toolCalls).map(c => ({ toolName: c.toolName, input: c.input })),
    };
    out.request = first;
  }
} catch (error) {
  out.thrown = String(error?.stack ?? error);
}
finish(0);
