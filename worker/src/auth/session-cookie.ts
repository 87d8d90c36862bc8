/**
 * The dashboard's session: the operator JWT kept in an HttpOnly, SameSite=Strict cookie, so a
 * script injected into the page cannot read it. The cookie is honoured only for the dashboard's
 * own requests, and that is what makes it CSRF-safe:
 *  - the request must carry `X-Mycelium-Dashboard: 1`, a custom header no form, image or link can
 *    send and that a cross-origin script could send only after a CORS preflight, which never
 *    allows it (it is not in the allowed request headers);
 *  - a browser that says where a request comes from (`Sec-Fetch-Site`) must say `same-origin`;
 *  - SameSite=Strict keeps the browser from attaching the cookie to cross-site requests at all;
 *  - explicit credentials (Authorization, X-Admin-Key, X-Agent-Key) always win over the cookie.
 * The cookie is turned into the same `Authorization: Bearer` header an API client sends, so every
 * guard and rule applies unchanged.
 */
const SESSION_COOKIE = 'mycelium_session';
const DASHBOARD_HEADER = 'X-Mycelium-Dashboard';
/** The JWT's own lifetime (7 days); the cookie never outlives the token. */
const MAX_AGE_SECONDS = 7 * 24 * 3600;

function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** True for requests that the dashboard's own scripts sent (see the module comment). */
export function isDashboardRequest(headers: Headers): boolean {
  if (headers.get(DASHBOARD_HEADER) !== '1') return false;
  const site = headers.get('sec-fetch-site');
  return site === null || site === 'same-origin';
}

/**
 * Request headers with the session cookie presented as a bearer token, or null when the cookie
 * does not apply to this request (absent, explicit credentials present, or not the dashboard's).
 */
export function cookieCredentialHeaders(headers: Headers): Headers | null {
  const token = readCookie(headers.get('cookie'), SESSION_COOKIE);
  if (!token) return null;
  if (headers.has('authorization') || headers.has('x-admin-key') || headers.has('x-agent-key')) return null;
  if (!isDashboardRequest(headers)) return null;
  const out = new Headers(headers);
  out.set('authorization', `Bearer ${token}`);
  return out;
}

function attributes(secure: boolean) {
  return `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; Max-Age=${MAX_AGE_SECONDS}; ${attributes(secure)}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Max-Age=0; ${attributes(secure)}`;
}
