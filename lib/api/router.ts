/**
 * A tiny router: routes are a method and a path pattern with `{name}` segments; a path that
 * matches no pattern is `404`, one that matches with another method `405` with `Allow`.
 */
import { API_ERRORS, ApiError, notFound, type ApiRequest, type ApiResponse } from './http.js';

/** Path parameters by name, percent-decoded. */
export type PathParams = Readonly<Record<string, string>>;

/** One route. */
export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  /** `/v1/queues/{queue}/pause`: literal segments and `{name}` parameters. */
  readonly path: string;
  readonly handle: (request: ApiRequest, params: PathParams) => Promise<ApiResponse>;
}

/** The matched route for a request. */
export interface Match {
  readonly route: Route;
  readonly params: PathParams;
}

/**
 * Finds the route for `request`.
 *
 * @throws ApiError 404 (no pattern matches), 405 (a pattern matches, not the method), 400 (a
 *   segment is not valid percent-encoding).
 */
export function matchRoute(routes: readonly Route[], request: ApiRequest): Match {
  const segments = splitPath(request.path);
  const allowed = new Set<string>();
  for (const route of routes) {
    const params = matchPath(route.path, segments);
    if (params === undefined) continue;
    if (route.method === request.method) return { route, params };
    allowed.add(route.method);
  }
  if (allowed.size > 0) {
    const allow = [...allowed].sort().join(', ');
    throw new ApiError(405, API_ERRORS.methodNotAllowed, `${request.method} is not allowed on ${request.path}; allowed: ${allow}`, { headers: { Allow: allow } });
  }
  throw notFound(`no route for ${request.path}`);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

function matchPath(pattern: string, segments: readonly string[]): PathParams | undefined {
  const parts = splitPath(pattern);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of parts.entries()) {
    const segment = segments[index] ?? '';
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name === undefined) {
      if (part !== segment) return undefined;
      continue;
    }
    try {
      params[name] = decodeURIComponent(segment);
    } catch {
      throw new ApiError(400, API_ERRORS.badParameter, `${name} is not valid percent-encoding: ${segment.slice(0, 80)}`, { details: { parameter: name } });
    }
  }
  return params;
}
