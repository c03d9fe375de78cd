// The console's one way to the API: ordinary /v1 requests with the signed-in key as a Bearer token.
// The key lives in this tab's sessionStorage only (never a cookie, never localStorage, never a URL).

const KEY = "posthorn.api_key";
// Relative to this module's own URL (<base>/console/api.js), so a stage (/prod) or a custom domain's base
// path is kept, whether the page was opened at /console or /console/.
export const CONSOLE_BASE = new URL("./", import.meta.url);
export const API_BASE = new URL("../v1/", import.meta.url);
export const LOCAL_BASE = new URL("../_local/", import.meta.url);

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) { sessionStorage.setItem(KEY, value); },
  clear() { sessionStorage.removeItem(KEY); },
};

function url(base, path, query) {
  const target = new URL(path.replace(/^\//, ""), base);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

async function send(target, { method = "GET", body, raw, contentType, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${session.key}`;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["Content-Type"] = contentType || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(target, {
    method, headers, body: payload, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText, error.details);
  }
  return data;
}

export function api(method, path, options = {}) {
  return send(url(API_BASE, path, options.query), { ...options, method });
}

export const get = (path, query) => api("GET", path, { query });

// The local stack's own routes (never deployed): the outbox, its bodies, SES Open/Click.
export function local(method, path, options = {}) {
  return send(url(LOCAL_BASE, path, options.query), { ...options, method, auth: false });
}

export function localUrl(path) {
  return url(LOCAL_BASE, path).href;
}

export function describe(error) {
  if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
  const details = error.details.map((d) => `${d.field}: ${d.message}`).join("; ");
  return `${error.status} ${error.code}: ${error.message}${details ? ` (${details})` : ""}`;
}
