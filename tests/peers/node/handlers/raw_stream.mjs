// (d) Streaming with no prelude: plain bytes, Content-Type left at the
// client's default (application/octet-stream). Three writes with `delay_ms`
// between them: "raw-1\n", the bytes 00 01 fe ff, "raw-3\n". With `size`,
// one single write of `size` bytes instead (byte i is i % 256).
import { int, params, sleep } from "./_params.mjs";

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const p = params(event);
  const size = int(p.size, 0);
  if (size > 0) {
    const big = Buffer.alloc(size);
    for (let i = 0; i < size; i++) big[i] = i & 0xff;
    responseStream.write(big);
  } else {
    const delay = int(p.delay_ms, 20);
    responseStream.write(Buffer.from("raw-1\n"));
    await sleep(delay);
    responseStream.write(Buffer.from([0x00, 0x01, 0xfe, 0xff]));
    await sleep(delay);
    responseStream.write(Buffer.from("raw-3\n"));
  }
  responseStream.end();
});
