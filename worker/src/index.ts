import { createApp, prepareDatabase, type MyceliumApp } from './app.js';
import { maintenance } from './maintenance.js';
import { createWorkerRuntime, type WorkerEnv } from './worker-runtime.js';

/** The Durable Object class bound as EVENT_HUB (wrangler.toml) must be exported by the entry module. */
export { EventHub } from './event-hub.js';

interface ExecutionContextLike {
  waitUntil(p: Promise<unknown>): void;
}

type Instance = MyceliumApp & { runtime: ReturnType<typeof createWorkerRuntime> };

/** One app per isolate, created (and the schema migrated) on first use. */
let instance: Promise<Instance> | null = null;

function getInstance(env: WorkerEnv): Promise<Instance> {
  instance ??= (async () => {
    const runtime = createWorkerRuntime(env);
    await prepareDatabase(runtime);
    return { ...createApp(runtime), runtime };
  })().catch((err) => {
    instance = null; // try again on the next request
    throw err;
  });
  return instance;
}

const misconfigured = (err: unknown) => {
  console.error(`FATAL: ${err instanceof Error ? err.message : String(err)}`);
  return new Response(JSON.stringify({ error: 'Server is not configured' }), {
    status: 503,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
};

export default {
  async fetch(req: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
    let inst: Instance;
    try {
      inst = await getInstance(env);
    } catch (err) {
      return misconfigured(err);
    }
    const res = await inst.app.fetch(req, env, ctx as never);
    ctx.waitUntil(inst.runtime.drain());
    return res;
  },

  /** Cron trigger: the same maintenance the Node timer runs. */
  async scheduled(_controller: unknown, env: WorkerEnv, ctx: ExecutionContextLike): Promise<void> {
    const inst = await getInstance(env);
    ctx.waitUntil(maintenance(inst.ctx).then(() => inst.runtime.drain()));
  },
};
