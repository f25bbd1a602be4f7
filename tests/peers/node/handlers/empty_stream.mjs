// (f) Streaming: sets status, headers and cookies, then ends without
// writing a body. The client sends neither prelude nor delimiter then
// (aws-lambda-nodejs-runtime-interface-client#95, #97).
import { int, params } from "./_params.mjs";

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: int(params(event).status, 202),
    headers: { "x-custom": "probe" },
    cookies: ["a=1; Path=/"],
  });
  stream.end();
});
