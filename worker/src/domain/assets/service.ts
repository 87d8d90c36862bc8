import { escapeHtml } from '../../http/html.js';
import { toDbTime } from '../../db/time.js';
import type { Context } from 'hono';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { assertProjectScope } from '../../auth/scope.js';
import type { AppEnv } from '../../http/env.js';
import { AppError, badRequest, forbidden, invalidEnum, notFound } from '../../http/errors.js';
import { receiveUpload } from '../../http/upload.js';
import { attachment, storedFileName } from '../files/names.js';
import { tempFilesRepo } from '../files/repo.js';
import { atomicWrite, type WriteResult } from '../events/write.js';
import { assetsRepo, type AssetChanges, type AssetRow } from './repo.js';

/** Canonical asset statuses (spec 07 REL-22). */
export const ASSET_STATUSES = ['requested', 'in_progress', 'ready', 'delivered', 'cancelled'] as const;

/** Blob keys of asset uploads: `assets/<asset id>/<uuid>`, written only by the upload route. */
const ASSET_KEY = /^assets\/[1-9]\d*\/[0-9a-f-]{36}$/;

function status(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(ASSET_STATUSES as readonly string[]).includes(v))
    throw invalidEnum('status', v, ASSET_STATUSES);
  return v;
}

/**
 * `path` is a label, never a way to reach the disk (SEC-21): `..` segments, absolute paths
 * (POSIX, Windows drive or UNC) and control characters are refused at store time.
 */
function assetPath(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest('path must be a string');
  if (v.length > 500 || v.includes('..') || /^[\\/]/.test(v) || /^[A-Za-z]:/.test(v) || hasControlChar(v))
    throw badRequest('invalid asset path');
  return v;
}

/** Objects and arrays are stored as JSON; a string is stored as given (no double encoding). */
function metadata(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return JSON.stringify(v);
  throw badRequest('metadata must be an object or a JSON string');
}

function optString(field: string, v: unknown, max = 10_000): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (v.length > max) throw badRequest(`${field} exceeds max length (${max} chars)`);
  return v;
}

function optJobId(v: unknown): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw badRequest('drone_job_id must be a positive integer');
  return v;
}

/**
 * `file_path` and `download_url` are written by the upload, not by clients: agents may not set
 * them at all; humans only detach (`''`) or name an asset blob key.
 */
function serverField(p: Principal, field: 'file_path' | 'download_url', v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (!p.isAdmin && p.kind === 'agent') throw forbidden(`${field} is set by the server on upload`);
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (field === 'file_path' && v !== '' && !ASSET_KEY.test(v))
    throw badRequest('file_path must be empty or the key of an uploaded asset file');
  if (field === 'download_url' && v !== '' && !/^\/api\/mycelium\/assets\/[1-9]\d*\/download$/.test(v))
    throw badRequest('download_url must be empty or an asset download path');
  return v;
}

/** `shared` is the cross-project registry (the default project of assets): like no project for scope. */
const scopeOf = (projectId: string) => (projectId === 'shared' ? '' : projectId);

export class AssetService {
  constructor(private readonly app: AppContext) {}

  private async load(id: number | null): Promise<AssetRow> {
    const a = id === null ? undefined : await assetsRepo.byId(this.app.db, id);
    if (!a) throw notFound('Asset not found');
    return a;
  }

  /** POST /assets: agents register only in their own (or their teams') projects (SEC-19). */
  async create(p: Principal, body: Record<string, unknown>) {
    if (typeof body.name !== 'string' || !body.name.trim()) throw badRequest('name is required');
    if (body.name.length > 500) throw badRequest('name exceeds max length (500 chars)');
    const projectId =
      optString('project_id', body.project_id, 128) ?? (p.kind === 'agent' && p.projectId ? p.projectId : 'shared');
    const row = {
      name: escapeHtml(body.name.trim()),
      type: optString('type', body.type, 100) || 'sprite',
      project_id: projectId,
      status: status(body.status) ?? 'requested',
      path: assetPath(body.path) ?? '',
      metadata: metadata(body.metadata) ?? '{}',
      requester: p.who,
      prompt: optString('prompt', body.prompt) ?? '',
      assigned_to: optString('assigned_to', body.assigned_to, 128) ?? '',
      drone_job_id: optJobId(body.drone_job_id) ?? null,
    };
    for (const f of ['file_path', 'download_url'] as const)
      if (body[f] !== undefined && body[f] !== '') serverField(p, f, body[f]);
    await assertProjectScope(this.app.db, p, scopeOf(projectId), { write: true });
    await this.app.guards.check('asset.register', { agent: row.requester, project_id: projectId, name: row.name }, p);
    // The row and its event in one batch (issue 17); the event names the new id.
    const written = await atomicWrite(this.app)
      .add('asset', assetsRepo.insert(row))
      .eventWithNewId(
        {
          type: 'asset_registered',
          agent: row.requester,
          projectId,
          summary: `${row.requester} registered asset: ${row.name}`,
          data: { asset_id: null },
        },
        'asset_id',
      )
      .commit();
    const asset = written.row<AssetRow>('asset')!;
    return { id: asset.id, name: asset.name };
  }

  /** PUT /assets/:id: scope on the stored row's project, every field validated before the write. */
  async update(p: Principal, id: number | null, body: Record<string, unknown>) {
    const asset = await this.load(id);
    const changes: AssetChanges = {
      status: status(body.status),
      path: assetPath(body.path),
      metadata: body.metadata === undefined ? undefined : (metadata(body.metadata) ?? '{}'),
      drone_job_id: optJobId(body.drone_job_id),
      assigned_to: optString('assigned_to', body.assigned_to, 128),
      prompt: optString('prompt', body.prompt),
      file_path: serverField(p, 'file_path', body.file_path),
      download_url: serverField(p, 'download_url', body.download_url),
    };
    await assertProjectScope(this.app.db, p, scopeOf(asset.project_id), { write: true });
    if (Object.values(changes).every((v) => v === undefined)) return { ok: true, id: asset.id };
    const who = p.who;
    // A status change and its event commit together; an asset deleted meanwhile writes neither.
    const w = atomicWrite(this.app).add(null, assetsRepo.update(asset.id, changes)).requireChanged('asset deleted');
    if (changes.status)
      w.event({
        type: `asset_${changes.status}`,
        agent: who,
        projectId: asset.project_id,
        summary: `${who} set asset ${asset.name} to ${changes.status}`,
        data: { asset_id: asset.id },
      });
    if (!(await w.commitUnlessAborted())) throw notFound('Asset not found');
    return { ok: true, id: asset.id };
  }

  /** PUT /assets/link-job: everything checked (job, every asset, every scope) before one UPDATE. */
  async linkJob(p: Principal, body: Record<string, unknown>) {
    const ids = body.asset_ids;
    if (!Array.isArray(ids) || ids.length === 0) throw badRequest('asset_ids array required');
    if (ids.length > 500) throw badRequest('asset_ids has more than 500 items');
    if (!ids.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0))
      throw badRequest('asset_ids must be positive integers');
    if (body.drone_job_id === undefined || body.drone_job_id === null || body.drone_job_id === '')
      throw badRequest('drone_job_id required');
    const jobId = optJobId(body.drone_job_id)!;
    const st = status(body.status);
    const unique = [...new Set(ids as number[])];
    if (!(await assetsRepo.droneJobExists(this.app.db, jobId))) throw notFound(`Drone job #${jobId} not found`);
    const found = await assetsRepo.existingIds(this.app.db, unique);
    const missing = unique.filter((i) => !found.some((f) => Number(f.id) === i));
    if (missing.length) throw notFound(`Assets not found: ${missing.join(', ')}`);
    for (const f of found) await assertProjectScope(this.app.db, p, scopeOf(f.project_id), { write: true });
    const who = p.who;
    // All the checked assets move with the event, or none: one deleted since the check aborts the batch.
    const written = await atomicWrite(this.app)
      .add('link', assetsRepo.linkJob(unique, jobId, st))
      .abortIf('changes() <> ?', [unique.length], 'an asset was deleted meanwhile')
      .event({
        type: 'assets_linked_to_job',
        agent: who,
        summary: `${who} linked ${unique.length} asset(s) to drone job #${jobId}`,
        data: { asset_ids: unique, drone_job_id: jobId },
      })
      .commitUnlessAborted();
    if (!written) {
      const still = await assetsRepo.existingIds(this.app.db, unique);
      throw notFound(`Assets not found: ${unique.filter((i) => !still.some((f) => Number(f.id) === i)).join(', ')}`);
    }
    return { ok: true, updated: written.changes('link') };
  }

  /**
   * POST /assets/:id/upload. The guard ran before this; the asset and its scope are checked
   * before a byte is read, so a refused upload writes nothing. The blob lands under a fresh key;
   * the row is pointed at it only if nobody changed the asset meanwhile, else the blob is removed.
   * The previous file of the asset is deleted once the row no longer names it.
   */
  async upload(c: Context<AppEnv>, p: Principal, id: number | null) {
    const asset = await this.load(id);
    await assertProjectScope(this.app.db, p, scopeOf(asset.project_id), { write: true });
    const key = `assets/${asset.id}/${crypto.randomUUID()}`;
    const blobs = this.app.runtime.blobs;
    const file = await receiveUpload(c, blobs, key, { maxBytes: this.app.config.uploadMaxBytes });
    if (!file) throw badRequest('No file uploaded');
    const downloadUrl = `/api/mycelium/assets/${asset.id}/download`;
    const name = storedFileName(file.filename, this.app.clock.now().getTime());
    // The switch to the new blob and its event commit together, only if nobody changed the asset's
    // file meanwhile; otherwise (or on any failure) the new blob is removed again.
    let written: WriteResult | null;
    try {
      written = await atomicWrite(this.app)
        .add(
          null,
          assetsRepo.attachUpload(asset.id, asset.file_path, { key, path: name, size: file.size, downloadUrl }),
        )
        .requireChanged('asset changed during upload')
        .event({
          type: 'asset_uploaded',
          agent: p.who,
          projectId: asset.project_id,
          summary: `Asset #${asset.id} (${asset.name}) uploaded`,
        })
        .commitUnlessAborted();
    } catch (err) {
      await blobs.delete(key).catch(() => undefined);
      throw err;
    }
    if (!written) {
      await blobs.delete(key).catch(() => undefined);
      const still = await assetsRepo.byId(this.app.db, asset.id);
      if (!still) throw notFound('Asset not found');
      throw new AppError(409, 'Asset changed during upload; try again');
    }
    if (asset.file_path && ASSET_KEY.test(asset.file_path)) await blobs.delete(asset.file_path).catch(() => undefined);
    return { ok: true, asset_id: asset.id, download_url: downloadUrl, path: name, size: file.size };
  }

  /**
   * GET /assets/:id/download. Only blobs this server stored can come out: the asset's own upload
   * (file_path is a server-written key) or a live temp file named by `path`. Anything else a row
   * might hold (a seeded `../mycelium.db`, an absolute path) is refused with 403 (SEC-21).
   */
  async download(id: number | null): Promise<Response> {
    const asset = await this.load(id);
    if (!asset.file_path && !asset.path) throw notFound('No file attached to this asset');
    const outside = () => forbidden('File path outside allowed directory');
    let key: string;
    if (asset.file_path) {
      if (!ASSET_KEY.test(asset.file_path)) throw outside();
      key = asset.file_path;
    } else {
      if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$/.test(asset.path) || asset.path.includes('..')) throw outside();
      const temp = await tempFilesRepo.live(this.app.db, asset.path, toDbTime(this.app.clock.now()));
      if (!temp) throw notFound('File not found on disk');
      key = temp.blob_key;
    }
    const blob = await this.app.runtime.blobs.getStream(key);
    if (!blob) throw notFound('File not found on disk');
    return attachment(blob.body, blob.size, asset.path || `asset-${asset.id}`);
  }

  /** DELETE /assets/:id (admin): the row, then its uploaded blob. */
  async remove(p: Principal, id: number | null) {
    // Read first so the event can name it (name and project never change); the delete and its
    // event then commit together, and a concurrent delete makes this one a 404 with no event.
    const asset = await this.load(id);
    const written = await atomicWrite(this.app)
      .add('gone', assetsRepo.delete(asset.id))
      .requireChanged('asset deleted')
      .event({
        type: 'asset_deleted',
        agent: p.who,
        projectId: asset.project_id,
        summary: `${p.who} deleted asset ${asset.name}`,
        data: { asset_id: asset.id },
      })
      .commitUnlessAborted();
    const gone = written?.row<AssetRow>('gone');
    if (!gone) throw notFound('Asset not found');
    if (ASSET_KEY.test(gone.file_path))
      await this.app.runtime.blobs
        .delete(gone.file_path)
        .catch((err) =>
          this.app.log.warn('asset blob delete failed', { key: gone.file_path, error: (err as Error).message }),
        );
    return { ok: true, id: gone.id };
  }
}

/** Any C0 control character (NUL, newline, escape…): never part of a stored path. */
function hasControlChar(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) < 0x20) return true;
  return false;
}
