import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { AgentKeyCache } from './auth/key-cache.js';
import { EventBus } from './domain/events/bus.js';
import { createLimiters, type Limiters } from './http/rate-limit.js';
import type { Clock, Logger, Runtime } from './runtime.js';
import { createEmailSender, type EmailSender } from './email/sender.js';
import { coreJobs, type MaintenanceJob } from './maintenance.js';
import { Guards } from './guards.js';

/**
 * Everything a router or service needs, built once per app by createApp. Areas receive this
 * instead of reaching for globals, so two apps (tests, tenants) never share state.
 */
export interface AppContext {
  runtime: Runtime;
  db: Db;
  config: Config;
  log: Logger;
  clock: Clock;
  events: EventBus;
  limiters: Limiters;
  keyCache: AgentKeyCache;
  email: EmailSender;
  /** Periodic jobs run by `maintenance()`; areas append theirs when the app is created. */
  jobs: MaintenanceJob[];
  /** Pre-mutation checks (guardrails): services call `guards.check(action, subject, principal)` before writing. */
  guards: Guards;
}

export function createContext(runtime: Runtime, overrides: Partial<AppContext> = {}): AppContext {
  const now = () => runtime.clock.now().getTime();
  return {
    runtime,
    db: runtime.db,
    config: runtime.config,
    log: runtime.log,
    clock: runtime.clock,
    events: new EventBus(runtime.db, runtime),
    limiters: createLimiters(now),
    keyCache: new AgentKeyCache(1000, 5 * 60_000, now),
    email: createEmailSender(runtime.config, runtime.log),
    jobs: [...coreJobs],
    guards: new Guards(),
    ...overrides,
  };
}
