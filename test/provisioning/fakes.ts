/**
 * Local fake Railway (GraphQL) and Cloudflare (DNS records) servers on 127.0.0.1, plus a fake
 * tenant. They speak the request/response shapes documented in infra/provisioning/README.md,
 * record every request, and reject anything malformed so tests can assert what was sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

export const RAILWAY_TOKEN = 'rw-test-token';
export const CLOUDFLARE_TOKEN = 'cf-test-token';
export const ZONE_ID = 'zone123';

/** A failure to inject: the nth (1-based) call of an operation answers with it. */
export interface InjectedFailure {
  operation: string;
  times?: number;
  /** HTTP status; 200 means a GraphQL `errors` array. */
  status: number;
  message: string;
  /** Perform the operation, then answer with the failure (a lost answer). */
  afterEffect?: boolean;
}

export class FakeRailway {
  calls: { operation: string; query: string; variables: any; auth: string | undefined }[] = [];
  projects = new Map<
    string,
    {
      id: string;
      name: string;
      environments: { id: string; name: string }[];
      services: { id: string; name: string; source: any }[];
      volumes: { id: string; name: string; mountPath: string }[];
      customDomains: any[];
      deleted: boolean;
    }
  >();
  variables = new Map<string, Record<string, string>>();
  deployments = new Map<string, { id: string; serviceId: string; polls: number; status: string }>();
  failures: InjectedFailure[] = [];
  /** Global order log shared with other fakes to assert teardown order. */
  log: string[] | null = null;
  /** Status sequence a new deployment walks through on each Deployment query. */
  deploySequence = ['BUILDING', 'DEPLOYING', 'SUCCESS'];
  url = '';
  private server!: Server;
  private seq = 0;

  private id(prefix: string): string {
    return `${prefix}-${++this.seq}`;
  }

  async start(): Promise<this> {
    const { server, url } = await listen((req, res) => this.handle(req, res));
    this.server = server;
    this.url = `${url}/graphql/v2`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  ops(): string[] {
    return this.calls.map((c) => c.operation);
  }

  liveProjects() {
    return [...this.projects.values()].filter((p) => !p.deleted);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/graphql/v2') return json(res, 404, { message: 'not found' });
    if (req.headers['content-type'] !== 'application/json') return json(res, 415, { message: 'json only' });
    if (req.headers.authorization !== `Bearer ${RAILWAY_TOKEN}`)
      return json(res, 401, { errors: [{ message: 'Not Authorized' }] });
    const body = JSON.parse(await readBody(req));
    if (typeof body.query !== 'string' || typeof body.variables !== 'object')
      return json(res, 400, { errors: [{ message: 'bad request' }] });
    const m = /^\s*(query|mutation)\s+(\w+)/.exec(body.query);
    if (!m) return json(res, 400, { errors: [{ message: 'anonymous operation' }] });
    const operation = m[2];
    this.calls.push({ operation, query: body.query, variables: body.variables, auth: req.headers.authorization });
    this.log?.push(`railway ${operation}`);
    const fail = this.failures.find((f) => f.operation === operation && (f.times ?? 1) > 0);
    if (fail && !fail.afterEffect) return this.answerFailure(res, fail);
    let data: unknown;
    try {
      data = this.execute(operation, body.variables);
    } catch (err) {
      return json(res, 200, { data: null, errors: [{ message: (err as Error).message }] });
    }
    if (fail) return this.answerFailure(res, fail);
    json(res, 200, { data });
  }

  private answerFailure(res: ServerResponse, f: InjectedFailure): void {
    f.times = (f.times ?? 1) - 1;
    if (f.status === 200) json(res, 200, { data: null, errors: [{ message: f.message }] });
    else {
      res.statusCode = f.status;
      res.end(f.message);
    }
  }

  private project(id: string) {
    const p = this.projects.get(id);
    if (!p || p.deleted) throw new Error('Project not found');
    return p;
  }

  private execute(op: string, v: any): unknown {
    const edges = <T>(xs: T[]) => ({ edges: xs.map((node) => ({ node })) });
    switch (op) {
      case 'ProjectCreate': {
        if (!v.input?.name) throw new Error('name required');
        const p = {
          id: this.id('proj'),
          name: v.input.name,
          environments: [{ id: this.id('env'), name: 'production' }],
          services: [],
          volumes: [],
          customDomains: [],
          deleted: false,
        };
        this.projects.set(p.id, p);
        return { projectCreate: { id: p.id, name: p.name, environments: edges(p.environments) } };
      }
      case 'Projects':
        return {
          projects: edges(
            this.liveProjects().map((p) => ({ id: p.id, name: p.name, environments: edges(p.environments) })),
          ),
        };
      case 'Project': {
        const p = this.project(v.id);
        return {
          project: {
            id: p.id,
            name: p.name,
            environments: edges(p.environments),
            services: edges(p.services.map((s) => ({ id: s.id, name: s.name }))),
            volumes: edges(p.volumes.map((x) => ({ id: x.id, name: x.name }))),
          },
        };
      }
      case 'ServiceCreate': {
        const p = this.project(v.input.projectId);
        const src = v.input.source;
        if (!src || (typeof src.repo !== 'string' && typeof src.image !== 'string')) throw new Error('source required');
        if (src.repo && !/^[^/\s:]+\/[^/\s:]+$/.test(src.repo)) throw new Error('repo must be owner/repo');
        const s = { id: this.id('svc'), name: v.input.name, source: src };
        p.services.push(s);
        return { serviceCreate: { id: s.id, name: s.name } };
      }
      case 'VolumeCreate': {
        const p = this.project(v.input.projectId);
        if (!v.input.mountPath || !v.input.serviceId || !v.input.environmentId) throw new Error('bad volume input');
        const vol = { id: this.id('vol'), name: 'data', mountPath: v.input.mountPath };
        p.volumes.push(vol);
        return { volumeCreate: { id: vol.id, name: vol.name } };
      }
      case 'VariableCollectionUpsert': {
        const { projectId, environmentId, serviceId, variables } = v.input;
        this.project(projectId);
        const key = `${environmentId}/${serviceId}`;
        this.variables.set(key, { ...(this.variables.get(key) ?? {}), ...variables });
        return { variableCollectionUpsert: true };
      }
      case 'Variables':
        return { variables: this.variables.get(`${v.environmentId}/${v.serviceId}`) ?? {} };
      case 'VariableDelete': {
        const key = `${v.input.environmentId}/${v.input.serviceId}`;
        const vars = { ...(this.variables.get(key) ?? {}) };
        delete vars[v.input.name];
        this.variables.set(key, vars);
        return { variableDelete: true };
      }
      case 'CustomDomainCreate': {
        const p = this.project(v.input.projectId);
        if (p.customDomains.some((d) => d.domain === v.input.domain)) throw new Error('Domain already exists');
        const d = {
          id: this.id('dom'),
          domain: v.input.domain,
          status: {
            dnsRecords: [
              {
                hostlabel: v.input.domain.split('.')[0],
                fqdn: v.input.domain,
                recordType: 'DNS_RECORD_TYPE_CNAME',
                requiredValue: `${v.input.serviceId}.up.railway.app`,
                purpose: 'DNS_RECORD_PURPOSE_TRAFFIC_ROUTE',
              },
            ],
          },
        };
        p.customDomains.push(d);
        return { customDomainCreate: d };
      }
      case 'Domains':
        return { domains: { customDomains: this.project(v.projectId).customDomains } };
      case 'ServiceInstanceDeploy': {
        const d = { id: this.id('dep'), serviceId: v.serviceId, polls: 0, status: this.deploySequence[0] };
        this.deployments.set(d.id, d);
        return { serviceInstanceDeployV2: d.id };
      }
      case 'Deployment': {
        const d = this.deployments.get(v.id);
        if (!d) throw new Error('Deployment not found');
        d.status = this.deploySequence[Math.min(d.polls, this.deploySequence.length - 1)];
        d.polls++;
        return { deployment: { id: d.id, status: d.status, createdAt: '2026-01-01T00:00:00Z' } };
      }
      case 'Deployments':
        return {
          deployments: edges(
            [...this.deployments.values()]
              .filter((d) => d.serviceId === v.input.serviceId)
              .map((d) => ({ id: d.id, status: d.status, createdAt: '2026-01-01T00:00:00Z' })),
          ),
        };
      case 'DeploymentRemove': {
        const d = this.deployments.get(v.id);
        if (!d) throw new Error('Deployment not found');
        d.status = 'REMOVED';
        return { deploymentRemove: true };
      }
      case 'ProjectDelete': {
        this.project(v.id).deleted = true;
        return { projectDelete: true };
      }
      default:
        throw new Error(`Unknown operation ${op}`);
    }
  }
}

export class FakeCloudflare {
  requests: Recorded[] = [];
  records = new Map<
    string,
    { id: string; type: string; name: string; content: string; proxied: boolean; ttl: number }
  >();
  /** Global order log shared with other fakes to assert teardown order. */
  log: string[] | null = null;
  failNext: { method: string; status: number; message: string } | null = null;
  url = '';
  private server!: Server;
  private seq = 0;

  async start(): Promise<this> {
    const { server, url } = await listen((req, res) => this.handle(req, res));
    this.server = server;
    this.url = `${url}/client/v4`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const body = raw ? JSON.parse(raw) : undefined;
    const u = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ method: req.method ?? '', path: u.pathname + u.search, headers: req.headers, body });
    this.log?.push(`cloudflare ${req.method}`);
    if (req.headers.authorization !== `Bearer ${CLOUDFLARE_TOKEN}`)
      return json(res, 403, {
        success: false,
        errors: [{ code: 10000, message: 'Authentication error' }],
        result: null,
      });
    const m = /^\/client\/v4\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(u.pathname);
    if (!m || m[1] !== ZONE_ID)
      return json(res, 404, { success: false, errors: [{ code: 7003, message: 'Could not route' }], result: null });
    if (this.failNext && this.failNext.method === req.method) {
      const f = this.failNext;
      this.failNext = null;
      return json(res, f.status, { success: false, errors: [{ code: 1000, message: f.message }], result: null });
    }
    const id = m[2];
    const validate = () => {
      if (
        body?.type !== 'CNAME' ||
        typeof body.name !== 'string' ||
        typeof body.content !== 'string' ||
        body.proxied !== true ||
        body.ttl !== 1
      )
        return 'bad record body';
      if (body.content === body.name) return 'CNAME content cannot reference itself';
      return null;
    };
    switch (req.method) {
      case 'GET': {
        const list = [...this.records.values()].filter(
          (r) =>
            (!u.searchParams.get('type') || r.type === u.searchParams.get('type')) &&
            (!u.searchParams.get('name') || r.name === u.searchParams.get('name')),
        );
        return json(res, 200, { success: true, errors: [], messages: [], result: list });
      }
      case 'POST': {
        const bad = validate();
        if (bad) return json(res, 400, { success: false, errors: [{ code: 9000, message: bad }], result: null });
        if ([...this.records.values()].some((r) => r.name === body.name))
          return json(res, 400, {
            success: false,
            errors: [{ code: 81053, message: 'An A, AAAA, or CNAME record with that host already exists.' }],
            result: null,
          });
        const rec = {
          id: `rec${++this.seq}`,
          type: body.type,
          name: body.name,
          content: body.content,
          proxied: body.proxied,
          ttl: body.ttl,
        };
        this.records.set(rec.id, rec);
        return json(res, 200, { success: true, errors: [], messages: [], result: rec });
      }
      case 'PUT': {
        const bad = validate();
        if (bad) return json(res, 400, { success: false, errors: [{ code: 9000, message: bad }], result: null });
        if (!id || !this.records.has(id))
          return json(res, 404, {
            success: false,
            errors: [{ code: 81044, message: 'Record does not exist.' }],
            result: null,
          });
        const rec = {
          ...this.records.get(id)!,
          name: body.name,
          content: body.content,
          proxied: body.proxied,
          ttl: body.ttl,
        };
        this.records.set(id, rec);
        return json(res, 200, { success: true, errors: [], messages: [], result: rec });
      }
      case 'DELETE': {
        if (!id || !this.records.has(id))
          return json(res, 404, {
            success: false,
            errors: [{ code: 81044, message: 'Record does not exist.' }],
            result: null,
          });
        this.records.delete(id);
        return json(res, 200, { success: true, errors: [], messages: [], result: { id } });
      }
    }
    json(res, 405, { success: false, errors: [{ code: 1, message: 'method' }], result: null });
  }
}

/** A fake tenant: `/health` answers as configured; `POST /api/mycelium/studio/users` records the operator. */
export class FakeTenant {
  health: { status: number; body: unknown } = { status: 200, body: { status: 'ok' } };
  healthHits = 0;
  users: { adminKey: string | undefined; body: any }[] = [];
  url = '';
  private server!: Server;

  async start(): Promise<this> {
    const { server, url } = await listen(async (req, res) => {
      if (req.method === 'GET' && req.url === '/health') {
        this.healthHits++;
        return json(res, this.health.status, this.health.body);
      }
      if (req.method === 'POST' && req.url === '/api/mycelium/studio/users') {
        const body = JSON.parse(await readBody(req));
        this.users.push({ adminKey: req.headers['x-admin-key'] as string | undefined, body });
        return json(res, 201, { id: 1, username: body.username, role: body.role });
      }
      json(res, 404, { error: 'Not found' });
    });
    this.server = server;
    this.url = url;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections?.();
      this.server.close(() => r());
    });
  }
}
