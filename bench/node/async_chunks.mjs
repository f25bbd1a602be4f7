// For bench/relay.py: the async small-chunk shape, written as the Python
// async handlers write it. `count` writes of `size` bytes ("x"), `per_turn`
// of them in one event-loop turn, then one yield to the loop
// (`await new Promise(setImmediate)`, as Python's `await asyncio.sleep(0)`),
// then end. Node corks the socket on the first write of a turn and uncorks
// on the next tick: the writes of one turn leave in one writev, each its own
// chunk. It waits for "drain" when a write returns false, as a well-behaved
// producer does (our runtime blocks on the socket the same way).
const param = (event, name, fallback) => {
  const n = Number.parseInt(event?.queryStringParameters?.[name], 10);
  return Number.isFinite(n) ? n : fallback;
};

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const count = param(event, "count", 1);
  const perTurn = Math.max(1, param(event, "per_turn", 10));
  const chunk = Buffer.alloc(param(event, "size", 16), 0x78);
  for (let start = 0; start < count; start += perTurn) {
    const end = Math.min(count, start + perTurn);
    for (let i = start; i < end; i++) {
      if (!responseStream.write(chunk)) {
        await new Promise((resolve) => responseStream.once("drain", resolve));
      }
    }
    await new Promise(setImmediate);
  }
  responseStream.end();
});
