import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { Db } from '../../worker/src/db/db.js';
import { provisioningConfigFromEnv } from '../../infra/provisioning/config.js';
import { ProvisioningService, type ProvisioningTiming } from '../../infra/provisioning/service.js';
import type { InboxItem } from '../../infra/provisioning/ports.js';
import type { TenantSecrets } from '../../infra/provisioning/secrets.js';
import { CLOUDFLARE_TOKEN, FakeCloudflare, FakeRailway, FakeTenant, RAILWAY_TOKEN, ZONE_ID } from './fakes.js';

const MIGRATION = fileURLToPath(new URL('../../migrations/0050_provisioning.sql', import.meta.url));

export const FAST_TIMING: Partial<ProvisioningTiming> = {
  advanceBudgetMs: 5_000,
  deployPollIntervalMs: 5,
  deployTimeoutMs: 5_000,
  healthTimeoutMs: 400,
  healthIntervalMs: 20,
  healthAttemptTimeoutMs: 500,
  manualHealthBudgetMs: 200,
  manualHealthIntervalMs: 20,
  upstreamTimeoutMs: 2_000,
};

export interface Harness {
  db: Db;
  driver: SqliteFileDriver;
  railway: FakeRailway;
  cloudflare: FakeCloudflare;
  tenant: FakeTenant;
  svc: ProvisioningService;
  events: { type: string; summary: string; data?: object }[];
  inbox: InboxItem[];
  order: string[];
  /** Moves the service's clock forward (real time keeps flowing underneath). */
  advanceClock(ms: number): void;
  makeService(timing?: Partial<ProvisioningTiming>): ProvisioningService;
  close(): Promise<void>;
}

export async function startHarness(timing: Partial<ProvisioningTiming> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-prov-'));
  const driver = new SqliteFileDriver(join(dir, 'core.db'));
  driver.execScript(readFileSync(MIGRATION, 'utf8'));
  const db = new Db(driver);
  const order: string[] = [];
  const railway = await new FakeRailway().start();
  const cloudflare = await new FakeCloudflare().start();
  const tenant = await new FakeTenant().start();
  railway.log = order;
  cloudflare.log = order;
  const config = provisioningConfigFromEnv({
    RAILWAY_TOKEN,
    CLOUDFLARE_TOKEN,
    CLOUDFLARE_ZONE_ID: ZONE_ID,
    PROVISIONING_BASE_DOMAIN: 'tenants.example.test',
    PROVISIONING_SOURCE_REPO: 'https://github.com/example-org/mycelium.git',
    RAILWAY_API_URL: railway.url,
    CLOUDFLARE_API_URL: cloudflare.url,
  });
  if (!config) throw new Error('config expected');
  const events: Harness['events'] = [];
  const inbox: InboxItem[] = [];
  let offset = 0;
  const makeService = (t: Partial<ProvisioningTiming> = {}) =>
    new ProvisioningService({
      db,
      config,
      clock: () => new Date(Date.now() + offset),
      events: { emit: async (type, summary, data) => void events.push({ type, summary, data }) },
      inbox: { notify: async (item) => void inbox.push(item) },
      timing: { ...FAST_TIMING, ...timing, ...t },
      tenantUrl: () => tenant.url,
    });
  return {
    db,
    driver,
    railway,
    cloudflare,
    tenant,
    events,
    inbox,
    order,
    svc: makeService(),
    makeService,
    advanceClock: (ms) => {
      offset += ms;
    },
    async close() {
      await Promise.all([railway.stop(), cloudflare.stop(), tenant.stop()]);
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Advances a job until it stops making progress (active, failed, blocked). */
export async function runToEnd(svc: ProvisioningService, id: number, secrets?: TenantSecrets) {
  let r = await svc.advance(id, { secrets });
  for (let i = 0; i < 50 && r.outcome === 'in_progress'; i++) r = await svc.advance(id);
  return r;
}
