import { createApp, prepareDatabase, type MyceliumApp } from './app.js';
import { maintenance } from './maintenance.js';
import { createWorkerRuntime, type WorkerEnv } from './worker-runtime.js';
import { refuseUpgrade } from './file-drone-object.js';
import { authenticateFileDrone, FILE_DRONE_PATH } from './domain/file-server/service.js';
import { AppError } from './http/errors.js';
import { VOICE_PATH } from './domain/voice/hub.js';
import { authenticateVoice, refusalResponse } from './domain/voice/service.js';

export { FileDroneHubObject } from './file-drone-object.js';
/** Bound as VOICE_HUB (wrangler.toml): every /voice socket, whichever isolate accepted it. */
export { VoiceHubObject } from './voice-object.js';

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
    if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const path = new URL(req.url).pathname;
      if (path === FILE_DRONE_PATH) return fileDroneUpgrade(inst, req);
      if (path === VOICE_PATH) return voiceUpgrade(inst, req);
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

/** `/ws/file-drone` on Workers: authenticated here, then the socket is handed to the Durable Object. */
async function fileDroneUpgrade(inst: Instance, req: Request): Promise<Response> {
  const tunnel = inst.runtime.fileDroneTunnel;
  if (!tunnel) return refuseUpgrade(1011, 'File-drone tunnel not configured (FILE_DRONES binding)');
  const url = new URL(req.url);
  let auth;
  try {
    auth = await authenticateFileDrone(inst.ctx, url, req.headers, req.headers.get('cf-connecting-ip') ?? '');
  } catch (err) {
    return refuseUpgrade(
      err instanceof AppError && err.status === 429 ? 4429 : 1011,
      err instanceof AppError ? err.message : 'Server error',
    );
  }
  if (!auth.ok) return refuseUpgrade(auth.code, auth.reason);
  return tunnel.connect(auth.droneId, req);
}

/** `/voice` on Workers: authenticated here before any upgrade (refusal = plain HTTP), then handed to VOICE_HUB. */
async function voiceUpgrade(inst: Instance, req: Request): Promise<Response> {
  const hub = inst.runtime.voiceHub;
  if (!hub)
    return refusalResponse({ ok: false, status: 503, body: { error: 'Voice is not configured (VOICE_HUB binding)' } });
  const auth = await authenticateVoice(
    inst.ctx,
    new URL(req.url),
    req.headers,
    req.headers.get('cf-connecting-ip') ?? undefined,
  );
  if (!auth.ok) return refusalResponse(auth);
  return hub.connect(req);
}
