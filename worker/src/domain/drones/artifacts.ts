import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, forbidden, notFound } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { dronesRepo, type ArtifactRow } from './repo.js';

/**
 * Drone artifacts (spec 05 §8, §17.1 C-3, spec 07 SEC-27): trusted files that drones download
 * and run. Only admins upload or delete, decided before anything is stored. The bytes live in
 * the blob store under a server-chosen key (`artifacts/<uuid>`); the name is only a row here, so
 * no client text ever becomes a storage path. A replacement is written under a new key first and
 * the row switched after, so a drone never downloads half a file; each artifact carries its
 * SHA-256 for drones to verify.
 */

export const ARTIFACT_ADMIN_ONLY = 'Artifact upload is admin-only — artifacts are trusted code executed on drones.';
const NO_FILE = 'No file uploaded. Use multipart form with field name "file"';

/** Upload names: every character outside `[A-Za-z0-9_.-]` becomes `_` (spec 05 §0.4). */
function uploadName(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200);
}

/** Lookup names: characters outside the set are removed (spec 05 §8); `.`/`..` name nothing. */
function lookupName(raw: string): string | null {
  const n = raw.replace(/[^A-Za-z0-9_.-]/g, '');
  return n && !/^\.+$/.test(n) ? n : null;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class ArtifactService {
  constructor(private readonly app: AppContext) {}

  private present(a: ArtifactRow, base: string) {
    return {
      name: a.name,
      size: a.size,
      sha256: a.sha256,
      uploaded: `${a.updated_at.replace(' ', 'T')}Z`,
      url: `${base}/api/mycelium/drones/artifacts/${a.name}`,
    };
  }

  async list(base: string) {
    return (await dronesRepo.artifacts(this.app.db)).map((a) => this.present(a, base));
  }

  async upload(
    p: Principal,
    file: { name: string; bytes: Uint8Array } | null,
    nameField: string | undefined,
    base: string,
  ) {
    // The route guard already refused non-admins; this is the service's own rule (SEC-27).
    if (!p.isAdmin) throw forbidden(ARTIFACT_ADMIN_ONLY);
    if (!file) throw badRequest(NO_FILE);
    const name = uploadName(nameField || file.name);
    if (!name || /^\.+$/.test(name)) throw badRequest('name must contain a letter or digit');
    const key = `artifacts/${crypto.randomUUID()}`;
    const sha256 = await sha256Hex(file.bytes);
    await this.app.runtime.blobs.put(key, file.bytes);
    const size = file.bytes.length;
    const human = size >= 1_048_576 ? `${(size / 1_048_576).toFixed(1)}MB` : `${(size / 1024).toFixed(1)}KB`;
    // The key it replaces is read in the same batch as the switch, so two uploads of one name each
    // delete exactly the blob their own switch replaced; the row and its event commit together.
    let replaced: string | null;
    try {
      const written = await atomicWrite(this.app)
        .add('previous', dronesRepo.artifactKey(name))
        .add(null, dronesRepo.putArtifact({ name, blob_key: key, size, sha256, uploaded_by: p.who }))
        .event({
          type: 'artifact_uploaded',
          agent: p.who,
          projectId: 'drone',
          summary: `Uploaded drone artifact: ${name} (${human})`,
          data: { name, size, sha256 },
        })
        .commit();
      replaced = written.row<{ blob_key: string }>('previous')?.blob_key ?? null;
    } catch (err) {
      await this.app.runtime.blobs.delete(key).catch(() => undefined);
      throw err;
    }
    if (replaced && replaced !== key)
      await this.app.runtime.blobs
        .delete(replaced)
        .catch((e) =>
          this.app.log.warn('old artifact blob not deleted', { key: replaced, error: (e as Error).message }),
        );
    return { ok: true, name, url: `${base}/api/mycelium/drones/artifacts/${name}`, size, sha256 };
  }

  async download(rawName: string) {
    const name = lookupName(rawName);
    const row = name ? await dronesRepo.artifact(this.app.db, name) : undefined;
    const bytes = row ? await this.app.runtime.blobs.get(row.blob_key) : null;
    if (!row || !bytes) throw notFound('Artifact not found');
    return { row, bytes };
  }

  async remove(rawName: string) {
    const name = lookupName(rawName);
    const row = name ? await dronesRepo.deleteArtifact(this.app.db, name) : undefined;
    if (!row || !name) throw notFound('Artifact not found');
    await this.app.runtime.blobs
      .delete(row.blob_key)
      .catch((e) => this.app.log.warn('artifact blob not deleted', { key: row.blob_key, error: (e as Error).message }));
    return { ok: true, deleted: name };
  }
}
