// @ts-check
/**
 * The console's HTTP calls to the admin API (interactive_gym/admin/api.py, actions.py): JSON
 * GETs, and POSTs carrying the session's CSRF token in the X-CSRF-Token header. The token is
 * the one the server wrote into `<meta name="ig-csrf">` when it served console.html.
 *
 * Errors become {@link ApiError} with the server's message (`{ok:false, error, message}`); a
 * 401 (the session expired or was logged out) also tells {@link onExpired}'s listeners, so
 * the console can show the way back to the login page.
 * @module admin/api
 */

/** The placeholder console.html carries before the server fills it in. */
const PLACEHOLDER = "{{csrf}}";

/** The session's CSRF token ("" when the page was not served with one). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="ig-csrf"]');
  const token = meta?.getAttribute("content") ?? "";
  return token === PLACEHOLDER ? "" : token;
}

/** An API call failed: `status` is the HTTP status (0: no answer), `error` the server's code. */
export class ApiError extends Error {
  /** @param {number} status  @param {string} error  @param {string} message */
  constructor(status, error, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.error = error;
  }
}

/** @type {Set<() => void>} */
const expiredListeners = new Set();

/** Call `listener` whenever an API call answers 401. @param {() => void} listener */
export function onExpired(listener) {
  expiredListeners.add(listener);
}

/** Tell the listeners the session is gone (also used by the socket, see live.js). */
export function sessionExpired() {
  for (const listener of expiredListeners) listener();
}

/**
 * @param {string} url
 * @param {RequestInit} init
 * @returns {Promise<any>} the JSON answer
 */
async function call(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", cache: "no-store", ...init });
  } catch (error) {
    throw new ApiError(0, "network", `The server did not answer (${error instanceof Error ? error.message : error}).`);
  }
  /** @type {any} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page, an empty answer)
  }
  if (response.status === 401) {
    sessionExpired();
    throw new ApiError(401, body?.error ?? "login_required", body?.message ?? "The session expired: log in again.");
  }
  if (!response.ok || (body && body.ok === false)) {
    const message = typeof body?.message === "string" && body.message ? body.message : `HTTP ${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, typeof body?.error === "string" ? body.error : "http", message);
  }
  if (body === null) throw new ApiError(response.status, "not_json", `${url}: the answer is not JSON`);
  return body;
}

/** GET `url` (an /admin/api/ URL from query.js). @param {string} url  @returns {Promise<any>} */
export function getJson(url) {
  return call(url, { headers: { Accept: "application/json" } });
}

/**
 * POST `body` as JSON to `url`, with the CSRF token.
 * @param {string} url
 * @param {unknown} body
 * @returns {Promise<any>}
 */
export function postJson(url, body) {
  return call(url, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body),
  });
}

/** The message to show for a failed call. @param {unknown} error */
export function errorMessage(error) {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
