// Parameters for the peer handlers, so that one handler serves many tests.
// Read from, in rising precedence: the event's own keys (Invoke API), its
// queryStringParameters and its JSON body (Function URL events; base64
// bodies are decoded). Only the names below are read.
const KEYS = ["status", "count", "delay_ms", "message", "prelude", "size"];

function pick(obj) {
  const out = {};
  if (obj && typeof obj === "object" && !Array.isArray(obj)) {
    for (const key of KEYS) if (key in obj) out[key] = obj[key];
  }
  return out;
}

export function params(event) {
  const out = { ...pick(event), ...pick(event?.queryStringParameters) };
  let body = event?.body;
  if (typeof body === "string" && body !== "") {
    if (event.isBase64Encoded) body = Buffer.from(body, "base64").toString("utf8");
    try {
      Object.assign(out, pick(JSON.parse(body)));
    } catch {
      // not JSON: no parameters in the body
    }
  }
  return out;
}

export function int(value, fallback) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : fallback;
}

export function flag(value, fallback) {
  if (value === undefined || value === null) return fallback;
  return !["0", "false", "no", "off", ""].includes(String(value).toLowerCase());
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The error type the conformance tests look for (errorType = error.name).
export class MyCustomError extends Error {
  constructor(message) {
    super(message);
    this.name = "MyCustomError";
  }
}
