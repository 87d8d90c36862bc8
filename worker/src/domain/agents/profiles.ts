import type { AppContext } from '../../context.js';
import { conflict, notFound } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import type { NodeProfileRow } from './calibration.js';
import { profilesRepo } from './profiles-repo.js';

/**
 * Calibration profile writes, each with its event in the same batch (issue 17). A write that
 * matches nothing (taken id, gone or platform-layer row) aborts the batch, so it records no event.
 */

export async function createProfile(app: AppContext, who: string, id: string, cols: Record<string, string | null>) {
  const res = await atomicWrite(app)
    .add('profile', profilesRepo.insert(id, cols))
    .requireChanged('profile exists')
    .event({ type: 'profile_created', agent: who, summary: `Profile created: ${id}`, data: { profile_id: id } })
    .commitUnlessAborted();
  const row = res?.row<NodeProfileRow>('profile');
  if (!row) throw conflict(`Profile already exists: ${id}`);
  return row;
}

export async function updateProfile(app: AppContext, who: string, id: string, cols: Record<string, string | null>) {
  const res = await atomicWrite(app)
    .add('profile', profilesRepo.update(id, cols))
    .requireChanged('profile gone')
    .event({
      type: 'profile_updated',
      agent: who,
      summary: `Profile updated: ${id}`,
      data: { profile_id: id, fields: Object.keys(cols) },
    })
    .commitUnlessAborted();
  const row = res?.row<NodeProfileRow>('profile');
  if (!row) throw notFound('Profile not found');
  return row;
}

export async function deleteProfile(app: AppContext, who: string, id: string) {
  const res = await atomicWrite(app)
    .add('profile', profilesRepo.delete(id))
    .requireChanged('profile gone')
    .event({ type: 'profile_deleted', agent: who, summary: `Profile deleted: ${id}`, data: { profile_id: id } })
    .commitUnlessAborted();
  const row = res?.row<NodeProfileRow>('profile');
  if (!row) throw notFound('Profile not found');
  return row;
}
