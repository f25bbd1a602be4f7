// (c) Mid-stream error: prelude, `count` chunks "partial-<i>\n" with
// `delay_ms` between them, then throws MyCustomError (`message`).
// `prelude: false` skips the prelude (plain octet stream).
import { MyCustomError, flag, int, params, sleep } from "./_params.mjs";

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const p = params(event);
  const count = int(p.count, 2);
  const delay = int(p.delay_ms, 10);
  const stream = flag(p.prelude, true)
    ? awslambda.HttpResponseStream.from(responseStream, {
        statusCode: 201,
        headers: { "X-Custom": "probe" },
      })
    : responseStream;
  for (let i = 1; i <= count; i++) {
    stream.write(`partial-${i}\n`);
    await sleep(delay);
  }
  throw new MyCustomError(p.message ?? `failed after ${count} chunks`);
});
