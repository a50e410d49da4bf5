/**
 * Calls the job system's API through the dashboard server (same origin, `/v1/*`). Every error
 * answer is `{ error: { code, message } }`; it becomes an ApiError with the status.
 */

/** An error answer of the API (or of the dashboard server in front of it). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Builds `path?query` from an object, leaving out empty values. */
export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/**
 * Calls the API; resolves the JSON answer (undefined for 204).
 * Changes carry `X-Hopper-Dashboard: 1`, which the server requires of them.
 */
export async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-hopper-dashboard'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, 'unreachable', `cannot reach the dashboard server (${error.message}); is it still running?`);
  }
  const text = await response.text();
  let data;
  try {
    data = text === '' ? undefined : JSON.parse(text);
  } catch {
    data = text;
  }
  if (!response.ok) {
    const error = data !== null && typeof data === 'object' ? data.error : undefined;
    const code = typeof error?.code === 'string' ? error.code : `http_${response.status}`;
    const message = typeof error?.message === 'string' ? error.message : (typeof data === 'string' && data !== '' ? data.slice(0, 300) : `the API answered ${response.status}`);
    throw new ApiError(response.status, code, message);
  }
  return data;
}

/** GET with a query. */
export const get = (path, query) => call('GET', withQuery(path, query));
/** POST with a JSON body. */
export const post = (path, body) => call('POST', path, body);
/** PUT with a JSON body. */
export const put = (path, body) => call('PUT', path, body);
/** DELETE. */
export const del = (path) => call('DELETE', path);
