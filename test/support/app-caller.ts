/**
 * JSON calls to an app built in the test's own process (`createApp(runtime).app`), for tests that
 * watch the driver or the event bus directly while a request runs. Over HTTP, use target.ts.
 */
export function appCaller(getApp: () => { fetch(req: Request): Response | Promise<Response> }) {
  return async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const res = await getApp().fetch(
      new Request(`http://127.0.0.1/api/mycelium${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}
