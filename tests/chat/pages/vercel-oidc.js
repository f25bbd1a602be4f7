// An ES-module stand-in for @vercel/oidc's browser build
// (node_modules/@vercel/oidc/dist/index-browser.js), which is CommonJS: a
// browser cannot import it as a module (a bundler would convert it). The AI
// SDK's gateway provider imports it; the page never calls the gateway. Same
// behaviour as that build: no token in a browser, the request context if any.
export class AccessTokenMissingError extends Error {}
export class RefreshAccessTokenFailedError extends Error {}
export const SYMBOL_FOR_REQ_CONTEXT = Symbol.for('@vercel/request-context');
export function getContext() {
  return globalThis[SYMBOL_FOR_REQ_CONTEXT]?.get?.() ?? {};
}
export async function getVercelOidcToken() {
  return '';
}
export function getVercelOidcTokenSync() {
  return '';
}
export async function getVercelToken() {
  throw new Error('getVercelToken is not supported in browser environments');
}
