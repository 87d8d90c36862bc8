// The dashboard's only way to the server. Every request carries X-Mycelium-Dashboard: 1, which
// is what lets the server accept the HttpOnly session cookie for it (and refuse it otherwise).
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const headers = { 'X-Mycelium-Dashboard': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const url = path.startsWith('/dashboard/') ? path : `/api/mycelium${path}`;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'The server could not be reached. Check the connection and try again.');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok)
    throw new ApiError(
      res.status,
      (data && typeof data.error === 'string' && data.error) || `Request failed (HTTP ${res.status})`,
    );
  return data;
}

export const get = (path) => api('GET', path);
