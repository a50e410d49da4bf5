/** The route lives in the location's hash: `#/<page>/<segments>?<query>`. */

/** The current route: page name, the path segments after it, and the query. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  const [name = 'overview', ...rest] = path.split('/').map((segment) => decodeURIComponent(segment));
  return { name: name === '' ? 'overview' : name, segments: rest, query: new URLSearchParams(query) };
}

/** Changes the route (the hash), or renders the page again when it is the same route. */
export function navigate(name, segments = [], query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const path = [name, ...segments.map(encodeURIComponent)].join('/');
  const text = params.toString();
  const hash = `#/${path}${text === '' ? '' : `?${text}`}`;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
