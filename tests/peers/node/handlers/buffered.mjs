// (a) Buffered: a Function URL style result object, no streaming.
import { int, params } from "./_params.mjs";

export const handler = async (event) => {
  const p = params(event);
  return {
    statusCode: int(p.status, 201),
    headers: { "x-custom": "probe" },
    cookies: ["a=1; Path=/"],
    body: "hello",
  };
};
