import { expect } from 'vitest';
import { connectVoice, mustConnect, type VoiceClient } from './voice-client.js';

/**
 * The `/voice` signalling contract (spec 01 §1.10, spec 07 P-06), written once and run against the
 * Node server and against the Worker in workerd (peers held by the VOICE_HUB Durable Object).
 */
export interface VoiceSetup {
  /** e.g. http://127.0.0.1:1234 */
  httpBase: string;
  adminKey: string;
  agentKey: string;
  operatorToken: string;
}

const wsUrl = (s: VoiceSetup, query = '') => `${s.httpBase.replace(/^http/, 'ws')}/voice${query}`;

async function peers(s: VoiceSetup, channel?: string) {
  const q = channel === undefined ? '' : `?channel=${encodeURIComponent(channel)}`;
  const res = await fetch(`${s.httpBase}/api/voice/peers${q}`, { headers: { 'X-Admin-Key': s.adminKey } });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    peers: { id: string; name: string; muted: boolean; channel: string }[];
    count: number;
  };
}

/** P-06: refused before the upgrade completes — an HTTP status and JSON body, never a socket. */
export async function refusalsBeforeUpgrade(s: VoiceSetup) {
  const none = await connectVoice(wsUrl(s));
  expect(none).toEqual({ ok: false, status: 401, body: { error: 'Authentication required' } });
  const badToken = await connectVoice(wsUrl(s, '?token=not.a.jwt'));
  expect(badToken).toEqual({ ok: false, status: 401, body: { error: 'Invalid token' } });
  const badAdmin = await connectVoice(wsUrl(s), { 'X-Admin-Key': 'wrong-admin-key-000000000000000000' });
  expect(badAdmin.ok).toBe(false);
  expect((badAdmin as { status: number }).status).toBeGreaterThanOrEqual(401);
  const badAgent = await connectVoice(wsUrl(s), { 'X-Agent-Key': 'dvk_nope' });
  expect(badAgent).toEqual({ ok: false, status: 403, body: { error: 'Invalid agent key' } });
  const forged = await connectVoice(wsUrl(s, '?ticket=eyJrIjoiYWRtaW4ifQ.00'));
  expect(forged).toEqual({ ok: false, status: 401, body: { error: 'Invalid or expired stream ticket' } });
  expect((await peers(s)).count).toBe(0);
  // A browser's way in: a 5-minute stream ticket bought with its bearer header, instead of the JWT.
  const res = await fetch(`${s.httpBase}/api/mycelium/events/stream-ticket`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${s.operatorToken}` },
  });
  const { ticket } = (await res.json()) as { ticket: string };
  const viaTicket = await mustConnect(wsUrl(s, `?ticket=${encodeURIComponent(ticket)}`));
  expect(viaTicket.id).toMatch(/^peer_\d+$/);
  viaTicket.ws.close();
  await viaTicket.closed;
  await waitFor(async () => (await peers(s)).count === 0);
}

/** Two real clients: joins, names, offer/answer/ice relayed, channels isolate, leaves announced. */
export async function signallingBetweenTwoPeers(s: VoiceSetup) {
  // An agent key (header) and an operator JWT in ?token= (how the original's browser client connects).
  const a = await mustConnect(wsUrl(s), { 'X-Agent-Key': s.agentKey });
  expect(a.welcome).toEqual({ type: 'welcome', id: expect.stringMatching(/^peer_\d+$/), peers: [] });
  const b = await mustConnect(wsUrl(s, `?token=${encodeURIComponent(s.operatorToken)}`));
  const n = Number(b.id.slice(5));
  expect(b.welcome.peers).toEqual([{ id: a.id, name: `User ${Number(a.id.slice(5))}`, muted: false, channel: '' }]);
  expect(await a.next('peer_joined')).toEqual({
    type: 'peer_joined',
    peer: { id: b.id, name: `User ${n}`, muted: false, channel: '' },
  });
  expect((await peers(s)).count).toBe(2);

  a.send({ type: 'set_name', name: 'Alice'.padEnd(40, '!') });
  const renamed = {
    type: 'peer_updated',
    peer: { id: a.id, name: 'Alice'.padEnd(30, '!'), muted: false, channel: '' },
  };
  expect(await a.next('peer_updated')).toEqual(renamed);
  expect(await b.next('peer_updated')).toEqual(renamed);
  b.send({ type: 'mute', muted: 1 });
  expect((await a.next('peer_updated')).peer).toMatchObject({ id: b.id, muted: true });
  expect((await b.next('peer_updated')).peer).toMatchObject({ id: b.id, muted: true });

  a.send({ type: 'offer', to: b.id, sdp: { type: 'offer', sdp: 'v=0 a' } });
  expect(await b.next('offer')).toEqual({ type: 'offer', from: a.id, sdp: { type: 'offer', sdp: 'v=0 a' } });
  b.send({ type: 'answer', to: a.id, sdp: { type: 'answer', sdp: 'v=0 b' } });
  expect(await a.next('answer')).toEqual({ type: 'answer', from: b.id, sdp: { type: 'answer', sdp: 'v=0 b' } });
  b.send({ type: 'ice', to: a.id, candidate: { candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host' } });
  expect((await a.next('ice')).candidate).toEqual({ candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host' });
  a.send('not json at all'); // ignored, the socket stays

  // Channels: B moves to "room"; A (lobby) sees it leave; signalling across channels is dropped.
  b.send({ type: 'join_channel', channel: 'room' });
  expect(await a.next('peer_left')).toEqual({ type: 'peer_left', id: b.id });
  expect(await b.next('welcome')).toEqual({ type: 'welcome', id: b.id, channel: 'room', peers: [] });
  a.send({ type: 'offer', to: b.id, sdp: 'across channels' });
  a.send({ type: 'join_channel', channel: 'room' });
  expect((await b.next('peer_joined')).peer).toMatchObject({ id: a.id, channel: 'room' });
  expect((await a.next('welcome')).peers).toEqual([{ id: b.id, name: `User ${n}`, muted: true, channel: 'room' }]);
  a.send({ type: 'offer', to: b.id, sdp: 'same channel' });
  // The first offer B sees after the move is the same-channel one: the cross-channel one never came.
  expect((await b.next('offer')).sdp).toBe('same channel');
  expect((await peers(s, 'room')).peers.map((p) => p.id).sort()).toEqual([a.id, b.id].sort());
  expect((await peers(s, '')).count).toBe(0);

  a.ws.close();
  expect(await b.next('peer_left')).toEqual({ type: 'peer_left', id: a.id });
  expect((await peers(s)).peers.map((p) => p.id)).toEqual([b.id]);
  b.ws.close();
  await b.closed;
  await waitFor(async () => (await peers(s)).count === 0);
}

/** Keepalive: a peer that answers nothing is dropped and announced; a live one stays. */
export async function deadPeerIsDropped(s: VoiceSetup, keepaliveMs: number) {
  const live = await mustConnect(wsUrl(s), { 'X-Admin-Key': s.adminKey });
  const dead = await mustConnect(wsUrl(s), { 'X-Agent-Key': s.agentKey }, { autoPong: false });
  await live.next('peer_joined');
  const left = await live.next('peer_left', keepaliveMs * 6 + 2000);
  expect(left).toEqual({ type: 'peer_left', id: dead.id });
  expect((await peers(s)).peers.map((p) => p.id)).toEqual([live.id]);
  // The live peer survives further ticks.
  await new Promise((r) => setTimeout(r, keepaliveMs * 3));
  expect((await peers(s)).peers.map((p) => p.id)).toEqual([live.id]);
  live.ws.close();
  dead.ws.terminate();
  await waitFor(async () => (await peers(s)).count === 0);
}

async function waitFor(fn: () => Promise<boolean>, ms = 3000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type { VoiceClient };
