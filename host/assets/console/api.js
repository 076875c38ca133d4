// api.js: every call the console makes goes through here, to this server's public API (/v1/...).
// The tokens live in this module's variables only (never localStorage, sessionStorage or a
// cookie): reloading the page signs out. A 401 refreshes the tokens once and retries; when the
// refresh fails too, the console goes back to its sign-in page.

let tokens = null; // { access, refresh }
let current = null; // { tenant, user } from GET /v1/me
let refreshing = null; // the refresh in flight, shared by concurrent 401s

/** A problem+json answer (or any non-2xx answer) as an error. */
export class ApiError extends Error {
  constructor(status, body) {
    const problem = body && typeof body === 'object' ? body : {};
    super(problem.detail || problem.title || `the server answered ${status}`);
    this.status = status;
    this.code = problem.code || null;
    this.title = problem.title || `Request failed (${status})`;
    this.detail = problem.detail || '';
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.body = body;
  }
}

/** The signed-in user and tenant, or null. */
export function session() {
  return current;
}

/** Signs in with a password; resolves the session or throws ApiError. */
export async function signIn(tenant, email, password) {
  const answer = await send('POST', '/v1/auth/login', { body: { tenant, email, password } });
  if (!answer.ok) throw await errorOf(answer);
  keep(await answer.json());
  await loadSession();
  return current;
}

/** Forgets the tokens here and revokes the refresh family on the server. */
export async function signOut() {
  const refresh = tokens?.refresh;
  tokens = null;
  current = null;
  if (refresh) {
    await send('POST', '/v1/auth/logout', { body: { refresh_token: refresh } }).catch(() => {});
  }
}

/** Reloads `session()` from GET /v1/me (after a role change, say). */
export async function loadSession() {
  const me = await api('GET', '/v1/me');
  current = {
    tenant: me.tenant,
    user: { id: me.user_id, email: me.email, roles: me.roles, permissions: me.permissions },
  };
  return current;
}

/** A JSON call: resolves the parsed answer (null for 204), throws ApiError otherwise. */
export async function api(method, path, body) {
  const answer = await apiRaw(method, path, { body });
  if (!answer.ok) throw await errorOf(answer);
  if (answer.status === 204) return null;
  const text = await answer.text();
  return text ? JSON.parse(text) : null;
}

/**
 * The raw Response (PDFs, ETag / If-Match, blobs), with the same refresh rule. A plain object
 * or array `body` is sent as JSON; a string, Blob or FormData as it is (say its Content-Type
 * in `headers`).
 */
export async function apiRaw(method, path, { body, headers } = {}) {
  const attempt = () => send(method, path, { body, headers, bearer: tokens?.access });
  let answer = await attempt();
  if (answer.status === 401 && tokens) {
    if (await refreshed()) {
      answer = await attempt();
    } else {
      signedOut();
    }
  }
  return answer;
}

async function send(method, path, { body, headers = {}, bearer } = {}) {
  if (!path.startsWith('/v1/')) throw new Error(`the console only calls /v1/ paths, not ${path}`);
  const all = { Accept: 'application/json, application/problem+json', ...headers };
  if (bearer) all.Authorization = `Bearer ${bearer}`;
  let payload = body;
  const plain = body !== null && typeof body === 'object' && [Object, Array].includes(body.constructor);
  if (plain) {
    all['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  return fetch(path, { method, headers: all, body: payload, credentials: 'omit' });
}

async function refreshed() {
  if (!refreshing) {
    const refresh = tokens.refresh;
    refreshing = send('POST', '/v1/auth/refresh', { body: { refresh_token: refresh } })
      .then(async (answer) => {
        if (!answer.ok) return false;
        keep(await answer.json());
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

function keep(answer) {
  tokens = { access: answer.access_token, refresh: answer.refresh_token };
}

function signedOut() {
  tokens = null;
  current = null;
  window.dispatchEvent(new CustomEvent('console:signed-out'));
}

async function errorOf(answer) {
  let body = null;
  const text = await answer.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return new ApiError(answer.status, body);
}
