import { toDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { agentProjectIds, inProjectScope, projectScopeSql } from '../../auth/scope.js';
import type { SqlValue } from '../../db/types.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import { assertEnforcementRules } from './enforcement.js';
import type { EventInput } from '../events/bus.js';
import { atomicWrite } from '../events/write.js';
import { contextRepo, NAMESPACE_CAP, type ContextKeyRow } from './repo.js';

/** Namespaces the server itself reads (policy, roles, admin caches): admin-write-only (SEC-17, C4). */
export const RESERVED_NAMESPACES = new Set(['mycelium', 'admin', 'roles']);
export const MAX_VALUE_BYTES = 256 * 1024;
/** Optimistic retries for writers without a version: K concurrent writers need at most K rounds. */
const MAX_ATTEMPTS = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface KeyWrite {
  namespace: string;
  key: string;
  data: unknown;
  category?: string;
  ttl?: number;
  expires_at?: string | null;
  expected_version?: number;
  shared?: boolean;
  project_id?: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Drops prototype-polluting keys at every depth (SEC-53); the result has no inherited setters. */
export function sanitize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sanitize);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (FORBIDDEN_KEYS.has(k)) continue;
    Object.defineProperty(out, k, { value: sanitize(val), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const OBJECT_START = /^\s*\{/;

/**
 * The plain object a JSON text holds, or undefined. Only text that starts with `{` is parsed: most
 * values are plain text, and a JSON.parse that throws per write was ~4 % of a context put
 * (bench/route-cpu.ts profile, issue 11).
 */
function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!OBJECT_START.test(text)) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return isPlainObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stored text of a write. Object onto object merges shallowly (clients rely on partial
 * updates); anything else replaces (weak spot C5: arrays and strings are never turned into
 * `{"0":…}`). Strings are stored verbatim, other values JSON-encoded.
 */
export function mergedValue(oldText: string | null, data: unknown): string {
  const clean = sanitize(typeof data === 'string' ? jsonObject(data) : data);
  if (oldText !== null && isPlainObject(clean)) {
    const old = jsonObject(oldText);
    if (old) return JSON.stringify({ ...(sanitize(old) as object), ...clean });
  }
  if (typeof data === 'string') return data;
  return JSON.stringify(clean);
}

const utf8 = new TextEncoder();
function byteLength(s: string): number {
  return utf8.encode(s).length;
}

export class ContextService {
  constructor(private readonly app: AppContext) {}

  private nowIso(): string {
    return this.app.clock.now().toISOString();
  }

  /** Projects whose keys an agent may see; null = everything (humans). */
  private async readScope(p: Principal): Promise<string[] | null> {
    if (p.kind !== 'agent') return null;
    return agentProjectIds(this.app.db, p.id, p.projectId);
  }

  private async assertCanRead(p: Principal, owner: string | null): Promise<void> {
    if (!(await inProjectScope(this.app.db, p, owner, { write: false, strictRead: true }))) {
      throw forbidden(`Agent ${p.who} cannot access resources in project ${owner}`);
    }
  }

  /**
   * Write rules: reserved namespaces are admin-only; a namespace named after a project is
   * writable only inside that project's scope and one named after an agent only by that agent
   * (no squatting other agents' boot namespaces); an existing key keeps its owner's scope.
   */
  private async assertCanWrite(p: Principal, namespace: string, existing: ContextKeyRow | undefined): Promise<void> {
    if (RESERVED_NAMESPACES.has(namespace) && !p.isAdmin)
      throw forbidden(`Namespace ${namespace} is reserved for admins`);
    if (p.kind !== 'agent') return;
    if (existing?.project_id && !(await inProjectScope(this.app.db, p, existing.project_id, { write: true }))) {
      throw forbidden(`Agent ${p.id} cannot access resources in project ${existing.project_id}`);
    }
    if (namespace !== p.id && (await contextRepo.existsAgent(this.app.db, namespace))) {
      throw forbidden(`Namespace ${namespace} belongs to agent ${namespace}`);
    }
    if (await contextRepo.existsProject(this.app.db, namespace)) {
      if (!(await inProjectScope(this.app.db, p, namespace, { write: true }))) {
        throw forbidden(`Agent ${p.id} cannot access resources in project ${namespace}`);
      }
    }
  }

  /** Owner of a new key: the agent's project unless it opts into shared; humans choose (default shared). */
  private ownerFor(p: Principal, w: KeyWrite): string | null {
    if (p.kind === 'agent') return w.shared ? null : p.projectId || null;
    return w.project_id || null;
  }

  private expiryOf(w: KeyWrite, existing: ContextKeyRow | undefined): string | null {
    if (w.ttl !== undefined) return new Date(this.app.clock.now().getTime() + w.ttl * 1000).toISOString();
    if (w.expires_at === null) return null;
    if (w.expires_at !== undefined) {
      const ms = Date.parse(
        /[zZ]|[+-]\d\d:?\d\d$/.test(w.expires_at) ? w.expires_at : `${w.expires_at.replace(' ', 'T')}Z`,
      );
      if (Number.isNaN(ms)) throw badRequest('expires_at must be an ISO-8601 date-time');
      return new Date(ms).toISOString();
    }
    // A rewrite without ttl/expires_at keeps the current expiry (weak spot C6).
    return existing?.expires_at ?? null;
  }

  private async live(namespace: string, key: string): Promise<ContextKeyRow | undefined> {
    const row = await contextRepo.get(this.app.db, namespace, key);
    if (row?.expires_at && row.expires_at <= this.nowIso()) {
      await contextRepo.deleteIfExpired(this.app.db, row.id, this.nowIso());
      return undefined;
    }
    return row;
  }

  /**
   * One key write: create (capped per owner), or overwrite as compare-and-set on the version
   * it read. With `expected_version` a stale writer gets 409; without it the write retries on
   * the fresh value so a merge never loses a concurrent writer's fields.
   */
  async write(p: Principal, w: KeyWrite, event?: (version: number) => EventInput): Promise<ContextKeyRow> {
    if (w.data === undefined) throw badRequest('data field is required');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const existing = await this.live(w.namespace, w.key);
      await this.assertCanWrite(p, w.namespace, existing);
      const current = existing?.version ?? 0;
      if (w.expected_version !== undefined && w.expected_version !== current) {
        throw conflict('Version conflict', { current_version: current, expected_version: w.expected_version });
      }
      const data = mergedValue(existing?.data ?? null, w.data);
      if (byteLength(data) > MAX_VALUE_BYTES) throw new AppError(413, `data exceeds ${MAX_VALUE_BYTES} bytes`);
      assertEnforcementRules(w.namespace, w.key, data);
      const category = w.category ?? existing?.category ?? 'durable';
      const expires = this.expiryOf(w, existing);
      if (!existing) {
        const owner = this.ownerFor(p, w);
        // The key and its event commit together (issue 17); a full namespace or a lost race writes neither.
        const created = atomicWrite(this.app).add(
          'key',
          contextRepo.insertNew({
            namespace: w.namespace,
            key: w.key,
            data,
            category,
            expires_at: expires,
            by: p.who,
            project_id: owner,
            now: this.nowIso(),
          }),
        );
        if (event) created.requireChanged('not created').event(event(1));
        const row = (await created.commitUnlessAborted())?.row<ContextKeyRow>('key');
        if (row) return row;
        if (!(await contextRepo.get(this.app.db, w.namespace, w.key))) {
          throw conflict(`Namespace ${w.namespace} is full (${NAMESPACE_CAP} keys)`);
        }
        continue; // someone created it first: go round as an overwrite (or a CAS conflict)
      }
      const row = await this.overwrite(
        {
          namespace: w.namespace,
          key: w.key,
          version: existing.version,
          data,
          category,
          expires_at: expires,
          by: p.who,
        },
        event?.(existing.version + 1),
      );
      if (row) return row;
    }
    if (w.expected_version !== undefined) throw conflict('Version conflict', { expected_version: w.expected_version });
    throw conflict('Too many concurrent writers on this key; retry');
  }

  /**
   * The overwrite's compare-and-set with its event in one batch: null (nothing written) when the
   * key moved on since it was read.
   */
  private async overwrite(k: Parameters<typeof contextRepo.overwrite>[0], event: EventInput | undefined) {
    const [history, update, trim] = contextRepo.overwrite(k);
    const w = atomicWrite(this.app).add(null, history).add('key', update);
    if (event) w.requireChanged('version moved').event(event);
    const res = await w.add(null, trim).commitUnlessAborted();
    return res?.row<ContextKeyRow>('key');
  }

  /**
   * The write rule of `assertCanWrite` as SQL, for the one-batch put: over the key's row (its
   * owner project) and over the namespace (another agent's name, or a project out of scope).
   * Reserved namespaces never get here (the slow path answers them).
   */
  private writePermitSql(p: Principal, namespace: string) {
    const yes = { sql: '1', args: [] as SqlValue[] };
    if (p.kind !== 'agent') return { row: yes, ns: yes };
    const parts: string[] = [];
    const args: SqlValue[] = [];
    if (namespace !== p.id) {
      parts.push('NOT EXISTS (SELECT 1 FROM agents WHERE id = ?)');
      args.push(namespace);
    }
    if (namespace !== p.projectId) {
      parts.push(`(NOT EXISTS (SELECT 1 FROM projects WHERE id = ?) OR EXISTS (SELECT 1 FROM projects pr
        JOIN team_members tm ON tm.team_id = pr.team_id WHERE pr.id = ? AND tm.user_id = ? AND tm.user_type = 'agent'))`);
      args.push(namespace, namespace, p.id);
    }
    return {
      row: projectScopeSql(p, 'context_keys.project_id'),
      ns: parts.length ? { sql: `(${parts.join(' AND ')})`, args } : yes,
    };
  }

  /** The expiry a write asks for: undefined keeps the key's; 'invalid' when unparseable. */
  private askedExpiry(w: KeyWrite): string | null | undefined | 'invalid' {
    if (w.ttl === undefined && w.expires_at === undefined) return undefined;
    try {
      return this.expiryOf(w, undefined);
    } catch {
      return 'invalid';
    }
  }

  /**
   * A put in one batch (issue 11): one libSQL round trip for a new key and for a value that
   * replaces (anything but an object onto an object); an object merged onto an existing object
   * takes a second batch, a compare-and-set on the version the first one read. Each batch runs the
   * write rule, the version check, the cap and the event inside its own statements
   * (`contextRepo.putBatch`). Null when a batch was refused rather than raced: then `write`
   * answers, so every refusal keeps exactly its error and the order of checks.
   */
  private async putInOneBatch(p: Principal, w: KeyWrite): Promise<Pick<ContextKeyRow, 'version'> | null> {
    if (w.data === undefined || RESERVED_NAMESPACES.has(w.namespace)) return null;
    const expiry = this.askedExpiry(w);
    if (expiry === 'invalid') return null;
    const merges = isPlainObject(typeof w.data === 'string' ? jsonObject(w.data) : w.data);
    const permit = this.writePermitSql(p, w.namespace);
    const event = { type: 'context_key_updated', agent: p.who, projectId: w.namespace };
    const summary = `${p.who} updated context ${w.namespace}:${w.key}`;
    // undefined: not read yet; null: absent; a row: as the last batch saw it.
    let known: Pick<ContextKeyRow, 'version' | 'data'> | null | undefined;
    for (let round = 0; round < 8; round++) {
      const text = mergedValue(known ? known.data : null, w.data);
      if (byteLength(text) > MAX_VALUE_BYTES) return null;
      if (known && w.expected_version !== undefined && w.expected_version !== known.version) return null;
      const update =
        known || (known === undefined && !merges)
          ? {
              data: text,
              category: w.category ?? null,
              expires_at: expiry,
              version: known ? known.version : (w.expected_version ?? null),
            }
          : null;
      const insert =
        !known && (w.expected_version === undefined || w.expected_version === 0)
          ? {
              data: text,
              category: w.category ?? 'durable',
              expires_at: expiry ?? null,
              project_id: this.ownerFor(p, w),
            }
          : null;
      if (!update && !insert) return null;
      const steps = contextRepo.putBatch({
        namespace: w.namespace,
        key: w.key,
        now: this.nowIso(),
        by: p.who,
        permit,
        update,
        insert,
        // Anything but an object onto an object replaces: the stored value is not read then.
        factsWithData: merges,
      });
      const batch = atomicWrite(this.app);
      for (const step of steps) {
        if ('stmt' in step) batch.add(step.name, step.stmt);
        else
          batch.eventPerRow(
            event,
            {
              summarySql: '?',
              dataSql: "json_object('namespace', namespace, 'key', key, 'version', version)",
              rest: step.eventRows.rest,
              args: [summary, ...step.eventRows.args],
              single: step.eventRows.single,
            },
            step.name,
          );
      }
      // Event rows are published by the commit (one only when the write before it changed a row).
      const res = await batch.commit();
      const written =
        res.row<Pick<ContextKeyRow, 'version'>>('updated') ?? res.row<Pick<ContextKeyRow, 'version'>>('inserted');
      if (written) return written;
      // What this batch saw. Refused (rule, cap, version) rather than raced → the slow path answers.
      const seen = res.row<Pick<ContextKeyRow, 'version' | 'data'>>('facts') ?? null;
      if (seen === null && insert) return null;
      if (seen !== null && update && (update.version === null || update.version === seen.version)) return null;
      known = seen;
    }
    return null;
  }

  async put(p: Principal, w: KeyWrite) {
    // One round trip for the common cases; anything refused or unusual takes the checked path,
    // which answers every error in the spec's order and commits the event with the write.
    const fast = await this.putInOneBatch(p, w);
    if (fast) return { ok: true, namespace: w.namespace, key: w.key, version: fast.version };
    const row = await this.write(p, w, (version) => ({
      type: 'context_key_updated',
      agent: p.who,
      projectId: w.namespace,
      summary: `${p.who} updated context ${w.namespace}:${w.key}`,
      data: { namespace: w.namespace, key: w.key, version },
    }));
    return { ok: true, namespace: w.namespace, key: w.key, version: row.version };
  }

  async bulk(p: Principal, entries: unknown[]) {
    const results: Record<string, unknown>[] = [];
    let ok = 0;
    for (const e of entries) {
      const entry = (isPlainObject(e) ? e : {}) as Record<string, unknown>;
      const ns = entry.namespace;
      const key = entry.key;
      if (typeof ns !== 'string' || !ns || typeof key !== 'string' || !key || entry.data === undefined) {
        results.push({ namespace: ns ?? null, key: key ?? null, error: 'namespace, key, and data are required' });
        continue;
      }
      try {
        const w = parseKeyWrite(ns, key, entry);
        const row = await this.write(p, w);
        results.push({ namespace: ns, key, ok: true, version: row.version });
        ok++;
      } catch (err) {
        if (!(err instanceof AppError)) {
          this.app.log.error('context bulk entry failed', { namespace: ns, key, error: (err as Error).message });
          results.push({ namespace: ns, key, error: 'write failed' });
        } else if (err.status === 403) {
          results.push({
            namespace: ns,
            key,
            error: /project/.test(err.message) ? 'forbidden: cross-project' : `forbidden: ${err.message}`,
          });
        } else {
          results.push({ namespace: ns, key, error: err.message });
        }
      }
    }
    // A summary only: each key above committed with its own context_key_updated (issue 17).
    await this.app.events.emit({
      type: 'context_keys_bulk',
      agent: p.who,
      summary: `${p.who} bulk-updated ${ok} context keys`,
      data: { count: ok },
    });
    return { ok: true, results };
  }

  async get(p: Principal, namespace: string, key: string) {
    const row = await this.live(namespace, key);
    if (!row) throw notFound('Context key not found');
    await this.assertCanRead(p, row.project_id);
    this.app.runtime.waitUntil(contextRepo.touch(this.app.db, row.id).catch(() => undefined));
    return row;
  }

  async list(
    p: Principal,
    f: { namespace?: string; category?: string; updated_by?: string; search?: string; limit: number; offset: number },
  ) {
    return contextRepo.list(this.app.db, { ...f, projects: await this.readScope(p), now: this.nowIso() });
  }

  async namespaces(p: Principal) {
    return contextRepo.namespaces(this.app.db, await this.readScope(p), this.nowIso());
  }

  stats() {
    return contextRepo.stats(this.app.db, this.nowIso());
  }

  /** History is scoped by the key's current owner (or, once deleted, its last recorded owner; C2). */
  async history(p: Principal, namespace: string, key: string, limit: number) {
    const row = await contextRepo.get(this.app.db, namespace, key);
    const owner = row
      ? row.project_id
      : ((await contextRepo.newestHistoryProject(this.app.db, namespace, key))?.project_id ?? null);
    await this.assertCanRead(p, owner);
    return contextRepo.history(this.app.db, namespace, key, limit);
  }

  /** Restores a history entry as a new version (history is never rewritten; C8: 404 if the key is gone). */
  async rollback(p: Principal, historyId: number) {
    const h = await contextRepo.historyEntry(this.app.db, historyId);
    if (!h) throw notFound('History entry not found');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.live(h.namespace, h.key);
      if (!row) {
        await this.assertCanRead(p, h.project_id);
        throw notFound('Context key not found');
      }
      await this.assertCanWrite(p, h.namespace, row);
      if (!(await inProjectScope(this.app.db, p, h.project_id, { write: true }))) {
        throw forbidden(`Agent ${p.who} cannot access resources in project ${h.project_id}`);
      }
      const updated = await this.overwrite(
        {
          namespace: h.namespace,
          key: h.key,
          version: row.version,
          data: h.data,
          category: row.category,
          expires_at: row.expires_at,
          by: p.who,
        },
        {
          type: 'context_key_rollback',
          agent: p.who,
          projectId: h.namespace,
          summary: `${p.who} rolled back ${h.namespace}:${h.key} to version #${historyId}`,
          data: { namespace: h.namespace, key: h.key, history_id: historyId, version: row.version + 1 },
        },
      );
      if (!updated) continue;
      return { ok: true, namespace: h.namespace, key: h.key, restored_from: historyId, version: updated.version };
    }
    throw conflict('Too many concurrent writers on this key; retry');
  }

  /**
   * Delete one key (spec 04 C9): admins, or an agent that could write it under the write rule
   * (its project's or its own keys; reserved namespaces stay admin-only). Non-admin operators
   * own no keys and stay refused. A missing (or expired) key is a 404, not a silent ok.
   */
  async remove(p: Principal, namespace: string, key: string) {
    if (p.kind === 'operator' && !p.isAdmin)
      throw forbidden('Only admins or the owning agent can delete a context key');
    const row = await this.live(namespace, key);
    if (p.kind === 'agent') await this.assertCanWrite(p, namespace, row);
    if (!row) throw notFound('Context key not found');
    // By id: exactly the row whose owner was checked; 0 changes means a concurrent delete won.
    const deleted = await atomicWrite(this.app)
      .add(null, contextRepo.deleteIds([row.id]))
      .requireChanged('already deleted')
      .event({
        type: 'context_key_deleted',
        agent: p.who,
        projectId: namespace,
        summary: `${p.who} deleted context ${namespace}:${key}`,
        data: { namespace, key },
      })
      .commitUnlessAborted();
    if (!deleted) throw notFound('Context key not found');
    return { ok: true, deleted: `${namespace}:${key}` };
  }

  async bulkDelete(ids: number[]) {
    // The event counts what the DELETE just removed (`changes()`), inside the same batch.
    const r = await atomicWrite(this.app)
      .add('delete', contextRepo.deleteIds(ids))
      .eventPerRow(
        { type: 'context_keys_bulk_delete', agent: 'admin' },
        {
          summarySql: "'Admin bulk-deleted ' || changes() || ' context keys'",
          dataSql: "json_object('count', changes())",
          rest: '',
          args: [],
        },
      )
      .commit();
    return { ok: true, deleted: r.changes('delete') };
  }

  // ── legacy project documents (spec 04 §3.1) ──────────────────────────────
  listDocs() {
    return contextRepo.listDocs(this.app.db);
  }

  async getDoc(projectId: string) {
    return (
      (await contextRepo.getDoc(this.app.db, projectId)) ?? {
        project_id: projectId,
        data: '{}',
        updated_at: null,
        updated_by: '',
      }
    );
  }

  async putDoc(p: Principal, projectId: string, data: unknown) {
    if (data === undefined) throw badRequest('data field is required');
    if (!(await inProjectScope(this.app.db, p, projectId, { write: true }))) {
      throw forbidden(`Agent ${p.who} cannot access resources in project ${projectId}`);
    }
    const text = typeof data === 'string' ? data : JSON.stringify(sanitize(data));
    if (byteLength(text) > MAX_VALUE_BYTES) throw new AppError(413, `data exceeds ${MAX_VALUE_BYTES} bytes`);
    const ev = {
      type: 'context_updated',
      agent: p.who,
      projectId,
      summary: `${p.who} updated context for ${projectId}`,
      data: {},
    };
    await atomicWrite(this.app)
      .add(null, contextRepo.putDoc(projectId, text, p.who))
      .event(ev)
      .commit();
    return { ok: true, project_id: projectId };
  }

  /** Maintenance: expired keys, and history older than 90 days (spec 04 §10). */
  async purge() {
    const now = this.app.clock.now();
    const expired = await contextRepo.purgeExpired(this.app.db, now.toISOString());
    const cutoff = toDbTime(now.getTime() - 90 * 86_400_000);
    const history = await contextRepo.purgeOldHistory(this.app.db, cutoff);
    return { expired: expired.changes, history: history.changes };
  }
}

/** Validates one write's optional fields (shared by PUT and bulk entries). */
export function parseKeyWrite(namespace: string, key: string, b: Record<string, unknown>): KeyWrite {
  if (namespace.length > 200) throw badRequest('namespace exceeds max length (200 chars)');
  if (key.length > 500) throw badRequest('key exceeds max length (500 chars)');
  const w: KeyWrite = { namespace, key, data: b.data };
  if (b.category !== undefined && b.category !== null) {
    if (typeof b.category !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(b.category))
      throw badRequest('category must be a short word (letters, digits, _ or -)');
    w.category = b.category;
  }
  if (b.ttl !== undefined && b.ttl !== null && b.ttl !== '') {
    const ttl = typeof b.ttl === 'string' && /^\d+$/.test(b.ttl) ? Number(b.ttl) : b.ttl;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 10 * 365 * 86400)
      throw badRequest('ttl must be a positive integer number of seconds');
    w.ttl = ttl;
  }
  if (b.expires_at !== undefined) {
    if (b.expires_at !== null && typeof b.expires_at !== 'string') throw badRequest('expires_at must be a string');
    w.expires_at = b.expires_at as string | null;
  }
  if (b.expected_version !== undefined && b.expected_version !== null) {
    if (typeof b.expected_version !== 'number' || !Number.isInteger(b.expected_version) || b.expected_version < 0) {
      throw badRequest('expected_version must be a non-negative integer');
    }
    w.expected_version = b.expected_version;
  }
  if (b.shared !== undefined) {
    if (typeof b.shared !== 'boolean') throw badRequest('shared must be a boolean');
    w.shared = b.shared;
  }
  if (b.project_id !== undefined && b.project_id !== null) {
    if (typeof b.project_id !== 'string') throw badRequest('project_id must be a string');
    w.project_id = b.project_id;
  }
  return w;
}
