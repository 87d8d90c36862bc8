import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { AppError, badRequest, forbidden, invalidEnum, unavailable } from '../../http/errors.js';
import { bootRepo } from '../boot/repo.js';

/** Owner and repo names GitHub allows; `.`/`..` are refused so nothing walks other API paths. */
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const STATES = ['open', 'closed', 'all'] as const;
const MERGE_METHODS = ['merge', 'squash', 'rebase'] as const;

/** A non-success answer from GitHub, passed on with its status (spec 05 §14). */
function upstreamError(status: number, message: string): AppError {
  const passed = status >= 400 && status <= 599 ? status : 502;
  return new AppError(passed as AppError['status'], message);
}

function repoPath(owner: string, repo: string): string {
  for (const [field, v] of [
    ['owner', owner],
    ['repo', repo],
  ] as const) {
    if (!NAME.test(v) || /^\.+$/.test(v)) throw badRequest(`invalid ${field}`);
  }
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
}

interface GithubPull {
  number: number;
  title: string;
  user: { login: string } | null;
  head: { ref: string };
  base: { ref: string };
  state: string;
  draft?: boolean;
  html_url: string;
  created_at: string;
  updated_at: string;
  merged?: boolean;
  sha?: string;
  message?: string;
}

/**
 * The GitHub PR proxy (spec 05 §14). One server-wide GITHUB_TOKEN: every caller acts as that
 * GitHub identity, which is why creating and merging are admin-only. Path parts are validated
 * and URL-encoded (the original concatenated them raw, §17.5).
 */
export class GithubService {
  constructor(private readonly app: AppContext) {}

  private async call(
    method: string,
    path: string,
    body: unknown,
    failure: string,
  ): Promise<{ status: number; json: GithubPull & GithubPull[] }> {
    const token = this.app.config.githubToken;
    if (!token) throw unavailable('GITHUB_TOKEN not configured on server');
    let res: Response;
    try {
      res = await fetch(`${this.app.config.githubApiUrl}${path}`, {
        method,
        headers: {
          Accept: 'application/vnd.github+json',
          'X-GitHub-Api-Version': '2022-11-28',
          'User-Agent': 'Mycelium/1.0',
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
        redirect: 'manual',
      });
    } catch (err) {
      this.app.log.warn('github request failed', { path, error: (err as Error).message });
      throw new AppError(502, 'GitHub request failed');
    }
    const json = (await res.json().catch(() => ({}))) as GithubPull & GithubPull[];
    if (!res.ok) throw upstreamError(res.status, (json && typeof json.message === 'string' && json.message) || failure);
    return { status: res.status, json };
  }

  async listPulls(owner: string, repo: string, state = 'open') {
    const base = repoPath(owner, repo);
    if (!(STATES as readonly string[]).includes(state)) throw invalidEnum('state', state, STATES);
    const { json } = await this.call('GET', `${base}/pulls?state=${state}&per_page=30`, undefined, 'GitHub API error');
    if (!Array.isArray(json)) throw new AppError(502, 'GitHub request failed');
    const prs = json.map((pr) => ({
      number: pr.number,
      title: pr.title,
      author: pr.user?.login ?? null, // deleted users come back as user: null
      branch: pr.head?.ref ?? null,
      base: pr.base?.ref ?? null,
      state: pr.state,
      draft: !!pr.draft,
      url: pr.html_url,
      created_at: pr.created_at,
      updated_at: pr.updated_at,
    }));
    return { count: prs.length, prs };
  }

  async createPull(owner: string, repo: string, b: Record<string, unknown>) {
    const base = repoPath(owner, repo);
    for (const f of ['title', 'head', 'base'] as const) {
      if (typeof b[f] !== 'string' || !(b[f] as string).trim()) throw badRequest(`${f} is required`);
    }
    if (b.body !== undefined && typeof b.body !== 'string') throw badRequest('body must be a string');
    if (b.draft !== undefined && typeof b.draft !== 'boolean') throw badRequest('draft must be a boolean');
    const { status, json } = await this.call(
      'POST',
      `${base}/pulls`,
      { title: b.title, head: b.head, base: b.base, body: b.body ?? '', draft: b.draft ?? false },
      'Create PR failed',
    );
    if (status !== 201) throw upstreamError(status, 'Create PR failed');
    return { number: json.number, title: json.title, url: json.html_url };
  }

  async mergePull(p: Principal, owner: string, repo: string, rawNumber: string, b: Record<string, unknown>) {
    const base = repoPath(owner, repo);
    if (!/^[1-9]\d{0,9}$/.test(rawNumber)) throw badRequest('invalid pull request number');
    const number = Number(rawNumber);
    const method = b.merge_method ?? 'squash';
    if (typeof method !== 'string' || !(MERGE_METHODS as readonly string[]).includes(method))
      throw invalidEnum('merge_method', method, MERGE_METHODS);
    for (const f of ['commit_title', 'commit_message'] as const)
      if (b[f] !== undefined && typeof b[f] !== 'string') throw badRequest(`${f} must be a string`);
    await this.enforce(p, { owner, repo, number });
    const { json } = await this.call(
      'PUT',
      `${base}/pulls/${number}/merge`,
      {
        merge_method: method,
        ...(b.commit_title ? { commit_title: b.commit_title } : {}),
        ...(b.commit_message ? { commit_message: b.commit_message } : {}),
      },
      'Merge failed',
    );
    return { number, sha: json.sha, merged: true };
  }

  /**
   * Enforcement rules for `merge_pr` (context key mycelium/enforcement_rules, an array or
   * `{rules:[…]}`): a rule naming the tool with severity `block`, whose optional
   * `match.owner`/`match.repo` equal the target, refuses the merge with 403. Matching is by
   * equality only — no rule text is compiled as a regex here (spec 07 SEC-17).
   */
  private async enforce(p: Principal, target: { owner: string; repo: string; number: number }) {
    const row = await bootRepo.contextKey(this.app.db, 'mycelium', 'enforcement_rules');
    if (!row) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.data);
    } catch {
      return;
    }
    const rules = Array.isArray(parsed)
      ? parsed
      : Array.isArray((parsed as { rules?: unknown })?.rules)
        ? (parsed as { rules: unknown[] }).rules
        : [];
    for (const r of rules as Record<string, any>[]) {
      if (!r || typeof r !== 'object' || r.enabled === false || r.severity !== 'block') continue;
      const tools: unknown[] = Array.isArray(r.tools) ? r.tools : [r.tool];
      if (!tools.includes('merge_pr')) continue;
      const m = (r.match ?? {}) as Record<string, unknown>;
      if (m.owner !== undefined && m.owner !== target.owner) continue;
      if (m.repo !== undefined && m.repo !== target.repo) continue;
      await this.app.events.emit({
        type: 'enforcement_violation',
        agent: p.who,
        summary: `merge_pr blocked by rule ${r.id ?? '?'}`,
        data: { rule: r.id ?? null, ...target },
      });
      throw forbidden(typeof r.message === 'string' && r.message ? r.message : 'Blocked by an enforcement rule', {
        enforcement_rule: r.id ?? null,
      });
    }
  }
}
