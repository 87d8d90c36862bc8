import type { Principal } from '../../auth/principal.js';

/**
 * The counted identity of a caller: one per studio user, one for the admin key whatever
 * `X-Acting-As` says (acting-as attributes, it does not mint voters), one per agent.
 * Display names are never compared (spec README "Identity comes from authentication only").
 */
export function identityKey(p: Principal): string {
  if (p.kind === 'agent') return `agent:${p.id}`;
  if (p.kind === 'operator') return `user:${p.userId}`;
  return 'admin_key';
}

/** The wire attribution of a vote or decision. */
export function voterName(p: Principal): string {
  if (p.kind === 'admin') return p.actingAs ?? '__admin__';
  return p.who;
}
