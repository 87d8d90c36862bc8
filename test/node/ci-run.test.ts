import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * `.ci/run` is the CI entry (issue 9 item 8): it must check types before the tests and fail when they do
 * not pass. Driven for real with a stand-in `npm` first on PATH that records each call, so neither an
 * install nor the suite actually runs here.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runCi(failOn: string | null) {
  const bin = mkdtempSync(join(tmpdir(), 'mycelium-ci-'));
  dirs.push(bin);
  const calls = join(bin, 'calls.log');
  writeFileSync(
    join(bin, 'npm'),
    `#!/usr/bin/env bash\necho "$*" >> "${calls}"\n` +
      (failOn ? `if [ "$*" = "${failOn}" ]; then echo "stand-in failure"; exit 2; fi\n` : '') +
      `if [ "$1" = test ]; then echo "      Tests  3 passed (3)"; fi\nexit 0\n`,
  );
  chmodSync(join(bin, 'npm'), 0o755);
  const r = spawnSync('bash', [resolve('.ci/run')], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    encoding: 'utf8',
    timeout: 30_000,
  });
  let log = '';
  try {
    log = readFileSync(calls, 'utf8');
  } catch {
    /* npm never called */
  }
  return { status: r.status, stdout: r.stdout, calls: log.trim().split('\n').filter(Boolean) };
}

describe('CI entry .ci/run (issue 9 item 8)', () => {
  it('runs npm run typecheck after install and before the tests', () => {
    const r = runCi(null);
    expect(r.status).toBe(0);
    expect(r.calls[0]).toMatch(/^ci\b/);
    expect(r.calls.indexOf('run typecheck')).toBeGreaterThan(0);
    expect(r.calls.indexOf('run typecheck')).toBeLessThan(r.calls.indexOf('test'));
    expect(r.calls.indexOf('run lint')).toBeGreaterThan(r.calls.indexOf('run typecheck'));
    expect(r.calls.indexOf('run lint')).toBeLessThan(r.calls.indexOf('test'));
    expect(r.stdout).toContain('tests: 3 passed, 0 failed');
  });

  it('fails CI when the lint (Biome) fails, without running the tests', () => {
    const r = runCi('run lint');
    expect(r.status).not.toBe(0);
    expect(r.calls).toContain('run lint');
    expect(r.calls).not.toContain('test');
  });

  it('fails CI when the typecheck fails, without running the tests', () => {
    const r = runCi('run typecheck');
    expect(r.status).not.toBe(0);
    expect(r.calls).toContain('run typecheck');
    expect(r.calls).not.toContain('test');
  });
});
