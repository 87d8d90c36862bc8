import { describe, expect, it } from 'vitest';
import { luaScript, luaString, parseWrk } from '../../bench/wrk-load.js';

// What wrk 4.1 prints with --latency (bench/coordination.ts BENCH_LOAD=wrk reads it).
const OUTPUT = `Running 5s test @ http://127.0.0.1:39879
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms    2.16ms  33.55ms   93.07%
    Req/Sec     6.94k     0.71k    7.77k    82.00%
  Latency Distribution
     50%    1.96ms
     75%    2.47ms
     90%    3.59ms
     99%   33.55ms
  34530 requests in 5.00s, 6.06MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   6903.58
Transfer/sec:      1.21MB
`;

describe('bench/wrk-load.ts (the wrk load generator of bench/coordination.ts)', () => {
  it("reads wrk's count, duration, percentiles and refusals", () => {
    const r = parseWrk(OUTPUT);
    expect(r.requests).toBe(34530);
    expect(r.seconds).toBe(5);
    expect(r.rps).toBeCloseTo(6906, 0);
    expect(r.p50).toBeCloseTo(1.96, 5);
    expect(r.p99).toBeCloseTo(33.55, 5);
    expect(r.errors).toBe(12);
    const us = parseWrk(
      OUTPUT.replace('50%    1.96ms', '50%  870.00us')
        .replace('99%   33.55ms', '99%    1.02s')
        .replace(/.*Non-2xx.*\n/, ''),
    );
    expect(us.p50).toBeCloseTo(0.87, 5);
    expect(us.p99).toBeCloseTo(1020, 5);
    expect(us.errors).toBe(0);
  });

  it('refuses output without a request count (wrk failed)', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/no request count/);
  });

  it('quotes any text as a Lua long string whose closing bracket the text does not contain', () => {
    expect(luaString('{"a":1}')).toBe('[[{"a":1}]]');
    expect(luaString('x]]y')).toBe('[=[x]]y]=]');
    expect(luaString('x]]y]=]z')).toBe('[==[x]]y]=]z]==]');
  });

  it('lists any number of requests as lines of one Lua string (LuaJIT allows 65,536 constants)', () => {
    const reqs = Array.from({ length: 70_000 }, (_, i) => ({
      method: 'POST',
      path: `/api/mycelium/tasks/${i}/claim`,
      headers: { 'x-agent-key': `k${i}` },
      body: {},
    }));
    const script = luaScript(reqs);
    const data = script.slice(script.indexOf('[['), script.indexOf(']]') + 2);
    const lines = data.slice(2, -2).split('\n');
    expect(lines).toHaveLength(70_000);
    expect(lines[7]).toBe(
      'POST\t/api/mycelium/tasks/7/claim\tx-agent-key\x1fk7\x1eContent-Type\x1fapplication/json\t+{}',
    );
    expect(luaScript([{ method: 'GET', path: '/x', headers: { a: 'b' } }])).toContain('GET\t/x\ta\x1fb\t-');
    expect(() => luaScript([{ method: 'GET', path: '/x', headers: { a: 'b\nc' } }])).toThrow(/cannot list/);
  });
});
