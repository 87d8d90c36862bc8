import { serve, type ServerType } from '@hono/node-server';
import { join, resolve } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { loadConfig, type Env } from '../worker/src/config.js';
import { createApp, prepareDatabase } from '../worker/src/app.js';
import { maintenance } from '../worker/src/maintenance.js';
import { WebhookService } from '../worker/src/domain/webhooks/service.js';
import { consoleLogger, type Logger } from '../worker/src/runtime.js';
import { createNodeRuntime, CORE_DB_FILE } from './runtime.js';
import { secureDataDir } from './data-dir.js';
import { resolveSecrets, SECRETS_FILE } from './secrets.js';
import { fileDroneTunnel } from './file-drone-ws.js';
import { voiceSignalling } from './voice-ws.js';

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Where start-up messages go (tests capture them). */
  out?: (line: string) => void;
  log?: Logger;
  maintenanceIntervalMs?: number;
  /** `/voice` keepalive period (spec 01 §1.10: 10 s); tests shorten it. */
  voiceKeepaliveMs?: number;
}

export interface RunningServer {
  port: number;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts Mycelium on Node: secure data folder, secrets, migrations, HTTP server, maintenance
 * timer. Everything created under DATA_DIR is private to the user (umask 077, then explicit
 * modes for files that existed before).
 */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? ((l: string) => console.log(l));
  process.umask(0o077);
  const dataDir = resolve(env.DATA_DIR || './data');
  const log = opts.log ?? consoleLogger((env.LOG_LEVEL as 'info') || 'info');
  const tightened = secureDataDir(dataDir, (m) => log.warn(m));
  for (const p of tightened) log.warn('tightened permissions', { path: p });

  const secrets = resolveSecrets(env, dataDir);
  const config = loadConfig({
    ...(env as Env),
    DATA_DIR: dataDir,
    ADMIN_KEY: secrets.adminKey,
    JWT_SECRET: secrets.jwtSecret,
  });
  const runtime = createNodeRuntime({ config, log });
  const applied = await prepareDatabase(runtime);
  if (applied.length) log.info('migrations applied', { migrations: applied.join(',') });
  secureDataDir(dataDir);

  const { app, ctx } = createApp(runtime);
  const server: ServerType = await new Promise((ready) => {
    const t = config.httpTimeouts;
    const s = serve(
      {
        // Bodies are read straight from the IncomingMessage (node-adapter/request-body.ts).
        fetch: runtime.receive(app.fetch),
        port: config.port,
        hostname: env.HOST || '0.0.0.0',
        // Deliberate deadlines (README "Configuration"): headers must arrive within `headers`, the
        // whole request (body included) within `request`; checked every second, not every 30 s.
        serverOptions: {
          headersTimeout: t.headers,
          requestTimeout: t.request,
          keepAliveTimeout: t.keepAlive,
          connectionsCheckingInterval: 1_000,
        },
      },
      () => ready(s),
    );
    // A socket silent for `idle` is closed (SSE streams send a keep-alive comment well within it).
    (s as HttpServer).timeout = t.idle;
  });
  // WebSocket upgrades are routed by exact pathname; any other upgrade path is destroyed (spec 01 §1.10).
  const sockets = [
    fileDroneTunnel(ctx, runtime.fileDroneHub),
    voiceSignalling(ctx, runtime.voiceHub, opts.voiceKeepaliveMs),
  ];
  (server as HttpServer).on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const owner = sockets.find((s) => s.path === path);
    if (owner) owner.handle(req, socket, head);
    else socket.destroy();
  });
  const closeTunnel = () => {
    for (const s of sockets) s.close();
  };
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://localhost:${port}`;

  if (secrets.generatedAdminKey) {
    out('');
    out(
      `First run: generated an admin key and a JWT secret and saved them in ${join(dataDir, SECRETS_FILE)} (mode 0600).`,
    );
    out(`Admin key (shown once): ${secrets.adminKey}`);
    out(`Try it: curl -H "X-Admin-Key: <admin key>" ${url}/api/mycelium/agents`);
    out('');
  }
  out(`Mycelium ${url} — data in ${dataDir} (${CORE_DB_FILE})`);

  // Maintenance: once shortly after start, then every minute; the jobs decide what is due.
  const runMaintenance = () =>
    maintenance(ctx).catch((err) => log.error('maintenance failed', { error: (err as Error).message }));
  const first = setTimeout(runMaintenance, 2_000);
  const timer = setInterval(runMaintenance, opts.maintenanceIntervalMs ?? 60_000);
  first.unref();
  timer.unref();
  // The webhook outbox is polled every second (due retries, and rows left pending by a restart);
  // one pass at a time.
  const outbox = new WebhookService(ctx);
  let polling = false;
  const pollOutbox = setInterval(() => {
    if (polling) return;
    polling = true;
    outbox
      .deliverDue()
      .catch((err) => log.error('webhook outbox failed', { error: (err as Error).message }))
      .finally(() => (polling = false));
  }, 1_000);
  pollOutbox.unref();

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearTimeout(first);
      clearInterval(timer);
      closeTunnel();
      clearInterval(pollOutbox);
      // Stop accepting, let in-flight requests finish; long-lived streams are cut after 10 s.
      await new Promise<void>((done) => {
        const force = setTimeout(() => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          done();
        }, 10_000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          done();
        });
        (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      });
      await runtime.close();
    })());

  return { port, url, dataDir, stop };
}
