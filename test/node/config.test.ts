import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { ENV_VARS, loadConfig, parseTrustProxy, ConfigError } from '../../worker/src/config.js';
import { PROVISIONING_ENV_VARS } from '../../infra/provisioning/config.js';
import { renderMigrationsModule } from '../../scripts/gen-migrations.mjs';
import { clientIp } from '../../worker/src/http/client-ip.js';

const long = 'x'.repeat(40);

describe('configuration', () => {
  it('.env.example documents exactly the variables config.ts reads', () => {
    const documented = readFileSync('.env.example', 'utf8')
      .split('\n')
      .map((l) => l.match(/^([A-Z][A-Z0-9_]*)=/)?.[1])
      .filter(Boolean);
    expect([...documented].sort()).toEqual([...ENV_VARS].sort());
    for (const v of PROVISIONING_ENV_VARS) expect(ENV_VARS).toContain(v);
  });

  it('SEC-02 / P-04: missing, short and placeholder secrets are refused', () => {
    expect(() => loadConfig({ JWT_SECRET: long })).toThrow(ConfigError);
    expect(() => loadConfig({ ADMIN_KEY: 'short-key', JWT_SECRET: long })).toThrow(/at least 32 characters/);
    expect(() => loadConfig({ ADMIN_KEY: long, JWT_SECRET: 'change-this-secret-in-production' })).toThrow(
      /placeholder/,
    );
    expect(loadConfig({ ADMIN_KEY: long, JWT_SECRET: long }).port).toBe(3002);
    expect(() => loadConfig({ ADMIN_KEY: long, JWT_SECRET: long, PORT: 'eighty' })).toThrow(/PORT/);
  });

  it('TRUST_PROXY parsing table (spec 01 §8)', () => {
    expect(parseTrustProxy(undefined)).toBe('local-peer');
    expect(parseTrustProxy('')).toBe('local-peer');
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('3')).toBe(3);
    expect(parseTrustProxy('loopback, 10.0.0.0/8')).toEqual(['loopback', '10.0.0.0/8']);
  });

  it('SEC-07: client address follows TRUST_PROXY', () => {
    expect(clientIp(true, '1.2.3.4, 10.0.0.1', '127.0.0.1')).toBe('1.2.3.4');
    expect(clientIp(false, '1.2.3.4', '127.0.0.1')).toBe('127.0.0.1');
    expect(clientIp(1, '6.6.6.6, 1.2.3.4', '10.0.0.9')).toBe('1.2.3.4');
    expect(clientIp(['10.0.0.0/8', 'loopback'], '6.6.6.6, 1.2.3.4, 10.1.1.1', '127.0.0.1')).toBe('1.2.3.4');
    expect(clientIp(['10.0.0.0/8'], '1.2.3.4', '203.0.113.9')).toBe('203.0.113.9');
  });

  it('SEC-07: with TRUST_PROXY unset, forwarded headers count only from a local-network peer', () => {
    // directly exposed: a public peer is the client, whatever it forwards
    expect(clientIp('local-peer', '1.2.3.4', '203.0.113.9')).toBe('203.0.113.9');
    expect(clientIp('local-peer', '1.2.3.4', '::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientIp('local-peer', '1.2.3.4', '2001:db8::1')).toBe('2001:db8::1');
    expect(clientIp('local-peer', '1.2.3.4', undefined)).toBe('unknown');
    // a proxy on the same host or network: loopback, private, link-local, unique-local peers
    for (const peer of [
      '127.0.0.1',
      '::1',
      '::ffff:127.0.0.1',
      '10.1.2.3',
      '172.20.0.4',
      '192.168.1.1',
      '169.254.0.2',
      'fe80::1',
      'fd12::3',
    ]) {
      expect(clientIp('local-peer', '1.2.3.4', peer), peer).toBe('1.2.3.4');
    }
    // a forged entry in front of the one the proxy appended changes nothing
    expect(clientIp('local-peer', '6.6.6.6, 1.2.3.4', '10.0.0.2')).toBe('1.2.3.4');
    // chained local proxies are skipped from the right
    expect(clientIp('local-peer', '1.2.3.4, 10.0.0.7', '127.0.0.1')).toBe('1.2.3.4');
    // no header: the peer
    expect(clientIp('local-peer', undefined, '10.0.0.2')).toBe('10.0.0.2');
    // 172.32/12 and 11/8 are public: not proxies
    expect(clientIp('local-peer', '1.2.3.4', '172.32.0.1')).toBe('172.32.0.1');
    expect(clientIp('local-peer', '1.2.3.4', '11.0.0.1')).toBe('11.0.0.1');
  });
});

describe('repository hygiene', () => {
  it('the generated migrations module matches migrations/*.sql (run `npm run gen:migrations`)', () => {
    expect(readFileSync('worker/src/db/migrations.generated.ts', 'utf8')).toBe(renderMigrationsModule());
  });

  it('SEC-58: no agent-key-shaped secret is committed', () => {
    const hits = execSync("git grep -lE 'dvk_[0-9a-f]{48}' -- . ':!package-lock.json' || true", {
      encoding: 'utf8',
    }).trim();
    expect(hits).toBe('');
  });

  it('the portable app imports no node: modules (it must run in workerd)', () => {
    const hits = execSync('git grep -lE "from [\'\\"]node:" -- worker/src infra/provisioning \':!*.test.ts\' || true', {
      encoding: 'utf8',
    }).trim();
    expect(hits).toBe('');
  });
});
