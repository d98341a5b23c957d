// @ts-check
/**
 * The admin API's URLs (served by interactive_gym/admin/api.py, downloads.py and actions.py):
 * query strings from filter objects, and paths holding a participant id, which is the
 * participant's own text (an id from a URL parameter) and so is always percent-encoded.
 *
 * Pure: no DOM, no imports, so the Node tests load it as is.
 * @module admin/query
 */

export const API = "/admin/api";

/** Export formats the download offers. */
export const EXPORT_FORMATS = /** @type {const} */ (["csv", "parquet", "jsonl"]);
/** Choices of the `bots` and `excluded` filters. */
export const INCLUDE_CHOICES = /** @type {const} */ (["include", "exclude", "only"]);
/** Participant statuses the server stores. */
export const STATUSES = /** @type {const} */ (["active", "completed"]);

/**
 * @typedef {Record<string, string | number | boolean | null | undefined | Array<string | number>>} Params
 * Query parameters: empty strings, null and undefined are left out; an array repeats the name.
 */

/**
 * `?a=1&b=x%26y` from `params` (keys in the given order), or "" when nothing is left.
 * @param {Params} params
 * @returns {string}
 */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === null || v === undefined || v === "") continue;
      search.append(key, String(v));
    }
  }
  const out = search.toString();
  return out ? `?${out}` : "";
}

/**
 * An API URL: `/admin/api/<path><query>`; each segment of `path` given as an array item is
 * percent-encoded (so an id with "/", "?" or ".." stays one segment).
 * @param {string | string[]} path
 * @param {Params} [params]
 */
export function apiUrl(path, params = {}) {
  const segments = Array.isArray(path) ? path.map(segment) : [path];
  return `${API}/${segments.join("/")}${queryString(params)}`;
}

/**
 * One path segment, percent-encoded; "." and ".." are encoded too (browsers and servers would
 * otherwise resolve them as the current and parent folder).
 * @param {string} value
 */
export function segment(value) {
  const s = String(value);
  if (s === "." || s === "..") return s.replaceAll(".", "%2E");
  return encodeURIComponent(s);
}

/**
 * The participant list: GET /admin/api/participants?q=&status=&condition=&bots=&excluded=&limit=&offset=
 * @param {{q?: string, status?: string, condition?: string, bots?: string, excluded?: string, limit?: number, offset?: number}} filter
 */
export function participantsUrl(filter) {
  const q = (filter.q ?? "").trim();
  return apiUrl("participants", {
    q,
    status: filter.status,
    condition: filter.condition,
    bots: filter.bots,
    excluded: filter.excluded,
    limit: filter.limit,
    offset: filter.offset || undefined,
  });
}

/** One participant: GET /admin/api/participants/{id}. @param {string} participantId */
export function participantUrl(participantId) {
  return apiUrl(["participants", participantId]);
}

/**
 * A participant's records: GET /admin/api/participants/{id}/records?kind=&limit=&before=
 * @param {string} participantId
 * @param {{kind?: string, limit?: number, before?: string | number | null}} [filter]
 */
export function recordsUrl(participantId, filter = {}) {
  return apiUrl(["participants", participantId, "records"], {
    kind: filter.kind,
    limit: filter.limit,
    before: filter.before,
  });
}

/**
 * @typedef {object} ExportFilter
 * @property {string} [format]       csv | parquet | jsonl (csv when missing)
 * @property {string} [status]       active | completed ("" or missing: all)
 * @property {string} [condition]
 * @property {string} [bots]         include | exclude | only
 * @property {string} [excluded]     include | exclude | only
 * @property {string | string[]} [participant]  only these participants
 */

/**
 * The export download: GET /admin/api/export?format=&status=&condition=&bots=&excluded=&participant=
 * @param {ExportFilter} filter
 */
export function exportUrl(filter) {
  const format = filter.format && EXPORT_FORMATS.includes(/** @type {any} */ (filter.format)) ? filter.format : "csv";
  const ids = Array.isArray(filter.participant) ? filter.participant : [filter.participant ?? ""];
  return apiUrl("export", {
    format,
    status: filter.status,
    condition: filter.condition,
    bots: filter.bots,
    excluded: filter.excluded,
    participant: ids.map((id) => id.trim()).filter(Boolean),
  });
}

/** An action: POST /admin/api/actions/{name}. @param {string} name */
export function actionUrl(name) {
  return apiUrl(["actions", name]);
}

/** The audit log: GET /admin/api/audit?limit=. @param {number} [limit] */
export function auditUrl(limit) {
  return apiUrl("audit", { limit });
}

/**
 * The console's place from `location.hash`: a tab, and for "participant" the id.
 * `#participant/<encoded id>` opens a participant's detail.
 * @param {string} hash
 * @param {readonly string[]} tabs
 * @returns {{tab: string, participantId: string | null}}
 */
export function parseHash(hash, tabs) {
  const raw = hash.replace(/^#/, "");
  if (raw.startsWith("participant/")) {
    let id = raw.slice("participant/".length);
    try {
      id = decodeURIComponent(id);
    } catch {
      // a malformed escape: take the text as it is
    }
    return { tab: "participants", participantId: id || null };
  }
  return { tab: tabs.includes(raw) ? raw : tabs[0], participantId: null };
}

/** `#participant/<encoded id>`. @param {string} participantId */
export function participantHash(participantId) {
  return `#participant/${encodeURIComponent(participantId)}`;
}
