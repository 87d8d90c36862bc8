import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../worker/src/config.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { consoleLogger } from '../../worker/src/runtime.js';

/** SQLITE_SYNCHRONOUS is a documented durability setting applied to every database file. */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const base = { ADMIN_KEY: 'a'.repeat(40), JWT_SECRET: 'j'.repeat(40) };

async function levels(value?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-sync-'));
  dirs.push(dir);
  const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
  const runtime = createNodeRuntime({
    config: loadConfig({ ...base, DATA_DIR: dir, ...(value ? { SQLITE_SYNCHRONOUS: value } : {}) }),
    log: quiet,
  });
  try {
    const core = (await runtime.db.get<{ synchronous: number }>('PRAGMA synchronous'))!.synchronous;
    const plugin = (await (
      await runtime.pluginDb('durability-probe')
    ).get<{ synchronous: number }>('PRAGMA synchronous'))!.synchronous;
    return { core, plugin };
  } finally {
    await runtime.close();
  }
}

describe('SQLITE_SYNCHRONOUS', () => {
  it('defaults to NORMAL (1) and FULL (2) applies to the core and plugin databases', async () => {
    expect(await levels()).toEqual({ core: 1, plugin: 1 });
    expect(await levels('FULL')).toEqual({ core: 2, plugin: 2 });
    expect(await levels('full')).toEqual({ core: 2, plugin: 2 });
  });

  it('anything else is a startup error naming the variable', () => {
    expect(() => loadConfig({ ...base, SQLITE_SYNCHRONOUS: 'OFF' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, SQLITE_SYNCHRONOUS: 'OFF' })).toThrow(/SQLITE_SYNCHRONOUS/);
  });
});
