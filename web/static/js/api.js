// The pages' only data source: bando's public OGC API, used as any third-party client would.
import { config } from "./config.js";

export class ApiError extends Error {
  constructor(status, code, description) {
    super(description || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function request(url, options = {}, timeoutMs = 20000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...options, signal: controller.signal });
  } catch (e) {
    throw new ApiError(0, "NetworkError", e.name === "AbortError" ? "timeout" : "network error");
  } finally {
    clearTimeout(timer);
  }
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    throw new ApiError(response.status, body?.code || "", body?.description || body?.detail || response.statusText);
  }
  return body;
}

export function api(path) {
  return `${config.api}${path}`;
}

/** GET /collections/{id}/items as GeoJSON; `params` become the query string. */
export function items(collection, params = {}) {
  const q = new URLSearchParams({ f: "json", ...params });
  return request(api(`/collections/${encodeURIComponent(collection)}/items?${q}`));
}

export function collection(id) {
  return request(api(`/collections/${encodeURIComponent(id)}?f=json`));
}

/** POST /processes/{id}/execution with {inputs}; returns the process's JSON output. */
export function execute(process, inputs) {
  return request(api(`/processes/${encodeURIComponent(process)}/execution?f=json`), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ inputs }),
  }, 30000);
}

/** A CQL2 text literal: single quotes doubled. */
export function cqlString(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}
