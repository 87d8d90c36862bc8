import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import type { Logger } from '../../worker/src/runtime.js';
import { startFakeAi } from '../support/fake-ai.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function start(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-memory-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const push = (lvl: string) => (m: string) => void lines.push(`${lvl} ${m}`);
  const log: Logger = { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
  const config = loadConfig({
    ADMIN_KEY: `k_${randomBytes(16).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: dir,
    ...env,
  });
  const rt = createNodeRuntime({ config, log });
  cleanup.push(() => rt.close());
  await prepareDatabase(rt);
  const { app } = createApp(rt);
  const enable = (name: string) =>
    app.fetch(
      new Request(`http://localhost/api/mycelium/plugins/${name}/enable`, {
        method: 'PUT',
        headers: { 'X-Admin-Key': config.adminKey },
      }),
    );
  return { dir, lines, enable };
}

describe('memory plugins on Node: own databases and start-up lines', () => {
  it('P-14: each logs its host line (routes, own database, MCP tools, hooks) and its own mode line; files are 0600', async () => {
    const { dir, lines, enable } = await start();
    expect((await enable('semantic-memory')).status).toBe(200);
    expect((await enable('auto-memory')).status).toBe(200);
    const sm = lines.find((l) => l.startsWith('info [plugins] Loaded semantic-memory v'));
    expect(sm).toContain('routes /api/mycelium/plugins/semantic-memory/ (alias /api/mycelium/memory/)');
    expect(sm).toContain('own database, migrations applied 001_init');
    expect(sm).toContain('MCP tools 3 (mycelium_memory_search, mycelium_memory_index, mycelium_memory_stats)');
    expect(sm).toContain(
      'event hooks: task_created, task_done, task_deleted, plan_created, context_key_updated, context_key_deleted',
    );
    expect(lines).toContain(
      'info [semantic-memory] keyword-only search (FTS5 BM25): MEMORY_EMBEDDINGS_URL is not set, answers say mode "keyword"',
    );
    const am = lines.find((l) => l.startsWith('info [plugins] Loaded auto-memory v'));
    expect(am).toContain(
      'MCP tools 3 (mycelium_auto_memory_facts, mycelium_auto_memory_extract, mycelium_auto_memory_stats)',
    );
    expect(am).toContain('jobs: consolidate');
    expect(lines.some((l) => l.startsWith('info [auto-memory] no LLM provider'))).toBe(true);
    for (const f of ['semantic-memory.db', 'auto-memory.db'])
      expect(statSync(join(dir, 'plugins', f)).mode & 0o777).toBe(0o600);
  });

  it('with providers configured, the lines name model and host but never a key', async () => {
    const ai = await startFakeAi();
    cleanup.push(() => ai.close());
    const { lines, enable } = await start({
      MEMORY_EMBEDDINGS_URL: `${ai.url}/v1`,
      MEMORY_EMBEDDINGS_MODEL: 'nomic-embed-text',
      MEMORY_EMBEDDINGS_KEY: 'sk-never-logged-1',
      AUTO_MEMORY_LLM_PROVIDER: 'ollama',
      AUTO_MEMORY_LLM_URL: ai.url,
      AUTO_MEMORY_LLM_KEY: 'sk-never-logged-2',
    });
    await enable('semantic-memory');
    await enable('auto-memory');
    expect(lines).toContain(
      `info [semantic-memory] hybrid search: FTS5 BM25 + libSQL vector index, embeddings nomic-embed-text via ${ai.hostPort}`,
    );
    expect(
      lines.some((l) => l.startsWith(`info [auto-memory] fact extraction with ollama (llama3.2) at ${ai.hostPort}`)),
    ).toBe(true);
    expect(lines.join('\n')).not.toMatch(/sk-never-logged/);
  });
});
