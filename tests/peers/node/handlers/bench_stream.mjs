// For bench/relay.py: `count` writes of `size` bytes each (defaults 1 and
// 16), every byte "x", no prelude (Content-Type application/octet-stream),
// then end. Each write is one chunk. It waits for "drain" when a write
// returns false, as a well-behaved producer does, so Node's own buffering
// stays bounded (our runtime blocks on the socket the same way).
import { int, params } from "./_params.mjs";

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const p = params(event);
  const count = int(p.count, 1);
  const chunk = Buffer.alloc(int(p.size, 16), 0x78);
  for (let i = 0; i < count; i++) {
    if (!responseStream.write(chunk)) {
      await new Promise((resolve) => responseStream.once("drain", resolve));
    }
  }
  responseStream.end();
});
