// (b) Streaming with a prelude: status, headers and cookies, then `count`
// chunks "chunk-<i>\n" with `delay_ms` between them, then end.
import { int, params, sleep } from "./_params.mjs";

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const p = params(event);
  const count = int(p.count, 3);
  const delay = int(p.delay_ms, 50);
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: int(p.status, 201),
    headers: { "content-type": "text/plain; charset=utf-8", "x-custom": "probe" },
    cookies: ["a=1; Path=/", "b=2; Path=/; HttpOnly"],
  });
  for (let i = 1; i <= count; i++) {
    if (i > 1) await sleep(delay);
    stream.write(`chunk-${i}\n`);
  }
  stream.end();
});
