// (e) An error before any write. `handler` is a streaming handler,
// `buffered` a plain async one; both throw MyCustomError (`message`).
import { MyCustomError, params } from "./_params.mjs";

export const handler = awslambda.streamifyResponse(async (event, _responseStream) => {
  throw new MyCustomError(params(event).message ?? "failed before any write");
});

export const buffered = async (event) => {
  throw new MyCustomError(params(event).message ?? "failed before any write");
};
