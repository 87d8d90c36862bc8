/**
 * `wrk` as the load generator of bench/coordination.ts (BENCH_LOAD=wrk): the way issue 11 measured
 * its table (wrk, 16 connections). wrk is C with one event loop per thread, so it takes far less of
 * a 2-core machine than the Node generator does, and its own pauses (a Node generator's GC) do not
 * land in the server's p99. The requests are fixed in advance: a Lua script holds the list, each
 * formatted once in `init`, and `request()` hands them out in order (wrapping around at the end).
 *
 * Needs `wrk` on PATH (Debian: `apt-get install wrk`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** What a load run measured (bench/coordination.ts reports it for either generator). */
export interface LoadRun {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Answers refused: non-200 (Node loops); other than 2xx/3xx (wrk). */
  errors: number;
}

export function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk prints its version and usage, then exits 1: it is there when it could be started.
    return (err as { code?: string }).code !== 'ENOENT';
  }
}

/** A Lua long string: `[=*[ … ]=*]` with a level the text does not contain, so nothing needs escaping. */
export function luaString(s: string): string {
  let eq = '';
  while (s.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${s}]${eq}]`;
}

/**
 * The script: every request one line of the data string (method, path, headers, body; tab-separated,
 * headers as name\x1fvalue pairs joined by \x1e, a body marked `+`, none `-`), split in `init`. One
 * string, because LuaJIT refuses a chunk with more than 65,536 constants (a claim pool is 20,000+
 * requests). JSON bodies, paths and keys hold no raw tab, newline or control characters.
 */
export function luaScript(reqs: LoadRequest[]): string {
  const lines = reqs.map((r) => {
    const body = r.body === undefined ? undefined : JSON.stringify(r.body);
    const headers = { ...r.headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
    const h = Object.entries(headers)
      .map(([k, v]) => `${k}\x1f${v}`)
      .join('\x1e');
    const line = `${r.method}\t${r.path}\t${h}\t${body === undefined ? '-' : `+${body}`}`;
    if (/[\n\r]/.test(line) || line.split('\t').length !== 4)
      throw new Error(`wrk: cannot list request ${r.method} ${r.path}`);
    return line;
  });
  return `local data = ${luaString(lines.join('\n'))}
local reqs = {}
local n = 0
local at = 0
function init(args)
  for line in data:gmatch("[^\\n]+") do
    local method, path, hs, body = line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$")
    local headers = {}
    for k, v in hs:gmatch("([^\\30\\31]+)\\31([^\\30]*)") do headers[k] = v end
    if body:sub(1, 1) == "+" then body = body:sub(2) else body = nil end
    n = n + 1
    reqs[n] = wrk.format(method, path, headers, body)
  end
end
function request()
  at = at + 1
  if at > n then at = 1 end
  return reqs[at]
end
`;
}

/** "1.93ms", "870.00us", "1.02s" → ms. */
function ms(text: string): number {
  const m = text.match(/^([\d.]+)(us|ms|s)$/);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

export function parseWrk(out: string): LoadRun {
  const total = out.match(/(\d+) requests in ([\d.]+)(us|ms|s)/);
  if (!total) throw new Error(`wrk: no request count in its output:\n${out}`);
  const seconds = ms(`${total[2]}${total[3]}`) / 1000;
  const pctl = (p: string) => ms(out.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm'))?.[1] ?? '');
  const requests = Number(total[1]);
  return {
    requests,
    seconds,
    rps: requests / seconds,
    p50: pctl('50'),
    p99: pctl('99'),
    errors: Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
  };
}

/** Runs wrk (one thread, `connections` connections, `seconds`) over `reqs` against 127.0.0.1:`port`. */
export async function runWrk(
  reqs: LoadRequest[],
  port: number,
  connections: number,
  seconds: number,
): Promise<LoadRun> {
  if (!reqs.length) throw new Error('wrk: no requests to send');
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-wrk-'));
  try {
    const script = join(dir, 'load.lua');
    writeFileSync(script, luaScript(reqs));
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        'wrk',
        ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let text = '';
      child.stdout.on('data', (b: Buffer) => (text += b.toString()));
      child.stderr.on('data', (b: Buffer) => (text += b.toString()));
      child.on('error', reject);
      // wrk reports an error in the script and then runs its default request anyway: that is a failure.
      child.on('exit', (code) =>
        code === 0 && !text.includes(script) ? resolve(text) : reject(new Error(`wrk failed (${code}):\n${text}`)),
      );
    });
    return parseWrk(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
