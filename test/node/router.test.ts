import { TrieRouter } from 'hono/router/trie-router';
import { describe, expect, it } from 'vitest';
import { REMEMBERED, RememberingRouter } from '../../worker/src/http/router.js';

// A literal segment beside a parameter (what Hono's RegExpRouter refuses), a middleware for all
// methods, a wildcard: the shapes the app's ~700 routes have.
const ROUTES: [string, string, string][] = [
  ['ALL', '*', 'frame'],
  ['GET', '/api/mycelium/agents/profiles', 'profiles'],
  ['GET', '/api/mycelium/agents/:id', 'agent'],
  ['GET', '/api/mycelium/agents/:agentId/skills', 'skills'],
  ['POST', '/api/mycelium/agents/heartbeat', 'heartbeat'],
  ['GET', '/api/mycelium/work/:agentId', 'work'],
  ['ALL', '/api/mycelium/plugins/:name/*', 'plugin'],
];

function both() {
  const mine = new RememberingRouter<string>();
  const trie = new TrieRouter<string>();
  for (const [m, p, h] of ROUTES) {
    mine.add(m, p, h);
    trie.add(m, p, h);
  }
  return { mine, trie };
}

const PROBES: [string, string][] = [
  ['GET', '/api/mycelium/agents/profiles'],
  ['GET', '/api/mycelium/agents/ada'],
  ['GET', '/api/mycelium/agents/ada/skills'],
  ['POST', '/api/mycelium/agents/heartbeat'],
  ['GET', '/api/mycelium/agents/heartbeat'],
  ['GET', '/api/mycelium/work/bob'],
  ['PUT', '/api/mycelium/plugins/memory/x/y'],
  ['GET', '/nowhere'],
];

describe('RememberingRouter (issue 11: the route of a path is looked up once)', () => {
  it('answers what TrieRouter answers, the first time and every time after', () => {
    const { mine, trie } = both();
    for (let round = 0; round < 3; round++)
      for (const [m, p] of PROBES) expect(mine.match(m, p), `${m} ${p}`).toEqual(trie.match(m, p));
    expect(mine.remembered).toBe(PROBES.length);
  });

  it('keeps each path its own params', () => {
    const { mine } = both();
    const params = (p: string) => mine.match('GET', p)[0].find(([h]) => h === 'work')?.[1];
    expect(params('/api/mycelium/work/ada')).toEqual({ agentId: 'ada' });
    expect(params('/api/mycelium/work/bob')).toEqual({ agentId: 'bob' });
    expect(params('/api/mycelium/work/ada')).toEqual({ agentId: 'ada' });
  });

  it('forgets what it remembered when a route is added', () => {
    const { mine } = both();
    expect(mine.match('GET', '/api/mycelium/late')[0].map(([h]) => h)).toEqual(['frame']);
    mine.add('GET', '/api/mycelium/late', 'late');
    expect(mine.match('GET', '/api/mycelium/late')[0].map(([h]) => h)).toEqual(['frame', 'late']);
  });

  it('stays bounded under a flood of distinct paths, and still answers right', () => {
    const { mine, trie } = both();
    for (let i = 0; i < REMEMBERED * 2 + 7; i++) {
      mine.match('GET', `/api/mycelium/agents/flood-${i}`);
      expect(mine.remembered).toBeLessThanOrEqual(REMEMBERED);
    }
    for (const [m, p] of PROBES) expect(mine.match(m, p)).toEqual(trie.match(m, p));
  });
});
