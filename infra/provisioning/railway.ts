import { z } from 'zod';
import { UpstreamError, safeText, timedFetch } from './errors.js';

/**
 * Typed client for the few Railway public GraphQL operations provisioning needs.
 * Every call is one POST of `{query, variables}` with a Bearer token and a deadline; every
 * answer is validated with zod before a field is read. The operation texts live in
 * RAILWAY_OPERATIONS so the README, the client and the tests' fake server agree on them.
 */
export const RAILWAY_DEFAULT_URL = 'https://backboard.railway.app/graphql/v2';

const envEdges = z.object({ edges: z.array(z.object({ node: z.object({ id: z.string(), name: z.string() }) })) });
const idName = z.object({ id: z.string(), name: z.string() });
const edgesOf = <T extends z.ZodTypeAny>(node: T) => z.object({ edges: z.array(z.object({ node })) });

const dnsRecord = z.object({
  hostlabel: z.string().nullish(),
  fqdn: z.string().nullish(),
  recordType: z.string().nullish(),
  requiredValue: z.string().nullish(),
  purpose: z.string().nullish(),
});
const customDomain = z.object({
  id: z.string(),
  domain: z.string(),
  status: z.object({ dnsRecords: z.array(dnsRecord) }).nullish(),
});
const deployment = z.object({ id: z.string(), status: z.string(), createdAt: z.string().nullish() });

export const RAILWAY_OPERATIONS = {
  ProjectCreate: {
    query: `mutation ProjectCreate($input: ProjectCreateInput!) {
  projectCreate(input: $input) { id name environments { edges { node { id name } } } }
}`,
    data: z.object({ projectCreate: idName.extend({ environments: envEdges }) }),
  },
  Projects: {
    query: `query Projects($teamId: String) {
  projects(teamId: $teamId) { edges { node { id name environments { edges { node { id name } } } } } }
}`,
    data: z.object({ projects: edgesOf(idName.extend({ environments: envEdges })) }),
  },
  Project: {
    query: `query Project($id: String!) {
  project(id: $id) {
    id name
    environments { edges { node { id name } } }
    services { edges { node { id name } } }
    volumes { edges { node { id name } } }
  }
}`,
    data: z.object({
      project: idName.extend({ environments: envEdges, services: edgesOf(idName), volumes: edgesOf(idName).nullish() }),
    }),
  },
  ServiceCreate: {
    query: `mutation ServiceCreate($input: ServiceCreateInput!) {
  serviceCreate(input: $input) { id name }
}`,
    data: z.object({ serviceCreate: idName }),
  },
  VolumeCreate: {
    query: `mutation VolumeCreate($input: VolumeCreateInput!) {
  volumeCreate(input: $input) { id name }
}`,
    data: z.object({ volumeCreate: idName }),
  },
  VariableCollectionUpsert: {
    query: `mutation VariableCollectionUpsert($input: VariableCollectionUpsertInput!) {
  variableCollectionUpsert(input: $input)
}`,
    data: z.object({ variableCollectionUpsert: z.boolean() }),
  },
  Variables: {
    query: `query Variables($projectId: String!, $environmentId: String!, $serviceId: String) {
  variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId)
}`,
    data: z.object({ variables: z.record(z.string(), z.string()) }),
  },
  VariableDelete: {
    query: `mutation VariableDelete($input: VariableDeleteInput!) {
  variableDelete(input: $input)
}`,
    data: z.object({ variableDelete: z.boolean() }),
  },
  CustomDomainCreate: {
    query: `mutation CustomDomainCreate($input: CustomDomainCreateInput!) {
  customDomainCreate(input: $input) {
    id domain
    status { dnsRecords { hostlabel fqdn recordType requiredValue purpose } }
  }
}`,
    data: z.object({ customDomainCreate: customDomain }),
  },
  Domains: {
    query: `query Domains($projectId: String!, $environmentId: String!, $serviceId: String!) {
  domains(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) {
    customDomains { id domain status { dnsRecords { hostlabel fqdn recordType requiredValue purpose } } }
  }
}`,
    data: z.object({ domains: z.object({ customDomains: z.array(customDomain) }) }),
  },
  ServiceInstanceDeploy: {
    query: `mutation ServiceInstanceDeploy($serviceId: String!, $environmentId: String!) {
  serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId)
}`,
    data: z.object({ serviceInstanceDeployV2: z.string() }),
  },
  Deployment: {
    query: `query Deployment($id: String!) {
  deployment(id: $id) { id status createdAt }
}`,
    data: z.object({ deployment: deployment }),
  },
  Deployments: {
    query: `query Deployments($input: DeploymentListInput!, $first: Int) {
  deployments(input: $input, first: $first) { edges { node { id status createdAt } } }
}`,
    data: z.object({ deployments: edgesOf(deployment) }),
  },
  DeploymentRemove: {
    query: `mutation DeploymentRemove($id: String!) {
  deploymentRemove(id: $id)
}`,
    data: z.object({ deploymentRemove: z.boolean() }),
  },
  ProjectDelete: {
    query: `mutation ProjectDelete($id: String!) {
  projectDelete(id: $id)
}`,
    data: z.object({ projectDelete: z.boolean() }),
  },
} as const;

type Ops = typeof RAILWAY_OPERATIONS;
export type RailwayOperationName = keyof Ops;

const envelope = z.object({
  data: z.unknown().optional(),
  errors: z.array(z.object({ message: z.string() }).passthrough()).nullish(),
});

export interface RailwayEnvironment {
  id: string;
  name: string;
}
export interface RailwayProject {
  id: string;
  name: string;
  environments: RailwayEnvironment[];
}
export interface RailwayCustomDomain {
  id: string;
  domain: string;
  /** The CNAME target Railway asks for (e.g. `abcd1234.up.railway.app`), when it gave one. */
  cnameTarget: string | null;
}
/** Railway deployment statuses, grouped by what provisioning does with them. */
export const DEPLOY_SUCCESS = new Set(['SUCCESS']);
export const DEPLOY_FAILED = new Set(['FAILED', 'CRASHED', 'REMOVED', 'SKIPPED', 'REMOVING']);

export interface RailwayClientOptions {
  token: string;
  apiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class RailwayClient {
  private readonly url: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: RailwayClientOptions) {
    this.url = opts.apiUrl ?? RAILWAY_DEFAULT_URL;
    this.fetchFn = opts.fetch ?? ((...a) => fetch(...a));
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** Runs one named operation and returns its validated `data`. */
  async call<N extends RailwayOperationName>(
    name: N,
    variables: Record<string, unknown>,
  ): Promise<z.infer<Ops[N]['data']>> {
    const op = RAILWAY_OPERATIONS[name];
    const res = await timedFetch(
      this.fetchFn,
      'railway',
      name,
      this.url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.opts.token}` },
        body: JSON.stringify({ query: op.query, variables }),
      },
      this.timeoutMs,
    );
    if (!res.ok) throw new UpstreamError('railway', res.status, (await safeText(res)) || res.statusText, name);
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new UpstreamError('railway', res.status, 'response is not JSON', name);
    }
    const env = envelope.safeParse(json);
    if (!env.success) throw new UpstreamError('railway', res.status, 'response is not a GraphQL envelope', name);
    if (env.data.errors && env.data.errors.length > 0) {
      throw new UpstreamError('railway', res.status, env.data.errors.map((e) => e.message).join(', '), name);
    }
    const data = op.data.safeParse(env.data.data);
    if (!data.success) {
      throw new UpstreamError(
        'railway',
        res.status,
        `unexpected response shape: ${data.error.issues[0]?.message ?? 'invalid'}`,
        name,
      );
    }
    return data.data as z.infer<Ops[N]['data']>;
  }

  async createProject(name: string, teamId?: string): Promise<RailwayProject> {
    const input: Record<string, unknown> = { name };
    if (teamId) input.teamId = teamId;
    const d = await this.call('ProjectCreate', { input });
    const p = d.projectCreate;
    return { id: p.id, name: p.name, environments: p.environments.edges.map((e) => e.node) };
  }

  /** Projects visible to the token with exactly this name (used to adopt a project a lost answer created). */
  async findProjectsByName(name: string, teamId?: string): Promise<RailwayProject[]> {
    const d = await this.call('Projects', { teamId: teamId ?? null });
    return d.projects.edges
      .map((e) => e.node)
      .filter((p) => p.name === name)
      .map((p) => ({ id: p.id, name: p.name, environments: p.environments.edges.map((e) => e.node) }));
  }

  async getProject(
    id: string,
  ): Promise<RailwayProject & { services: { id: string; name: string }[]; volumes: { id: string; name: string }[] }> {
    const p = (await this.call('Project', { id })).project;
    return {
      id: p.id,
      name: p.name,
      environments: p.environments.edges.map((e) => e.node),
      services: p.services.edges.map((e) => e.node),
      volumes: p.volumes?.edges.map((e) => e.node) ?? [],
    };
  }

  /** The environment called `production` if there is one, else the first. */
  async findEnvironment(projectId: string, preferred = 'production'): Promise<RailwayEnvironment | null> {
    const envs = (await this.getProject(projectId)).environments;
    return envs.find((e) => e.name === preferred) ?? envs[0] ?? null;
  }

  /** Service from a GitHub repo (`owner/repo`) or a container image. */
  async createService(input: {
    projectId: string;
    name: string;
    source: { repo: string; branch?: string } | { image: string };
  }): Promise<{ id: string; name: string }> {
    const source = 'repo' in input.source ? { repo: input.source.repo } : { image: input.source.image };
    const body: Record<string, unknown> = { projectId: input.projectId, name: input.name, source };
    if ('repo' in input.source && input.source.branch) body.branch = input.source.branch;
    return (await this.call('ServiceCreate', { input: body })).serviceCreate;
  }

  async createVolume(input: {
    projectId: string;
    serviceId: string;
    environmentId: string;
    mountPath: string;
  }): Promise<{ id: string; name: string }> {
    return (await this.call('VolumeCreate', { input })).volumeCreate;
  }

  /** Upserts service variables without triggering a deploy per change (the job deploys once, later). */
  async upsertVariables(input: {
    projectId: string;
    environmentId: string;
    serviceId: string;
    variables: Record<string, string>;
  }): Promise<void> {
    await this.call('VariableCollectionUpsert', { input: { ...input, skipDeploys: true } });
  }

  async getVariables(input: {
    projectId: string;
    environmentId: string;
    serviceId: string;
  }): Promise<Record<string, string>> {
    return (await this.call('Variables', input)).variables;
  }

  async deleteVariable(input: {
    projectId: string;
    environmentId: string;
    serviceId: string;
    name: string;
  }): Promise<void> {
    await this.call('VariableDelete', { input });
  }

  async createCustomDomain(input: {
    projectId: string;
    environmentId: string;
    serviceId: string;
    domain: string;
  }): Promise<RailwayCustomDomain> {
    return toCustomDomain((await this.call('CustomDomainCreate', { input })).customDomainCreate);
  }

  async findCustomDomain(input: {
    projectId: string;
    environmentId: string;
    serviceId: string;
    domain: string;
  }): Promise<RailwayCustomDomain | null> {
    const { domain, ...ids } = input;
    const list = (await this.call('Domains', ids)).domains.customDomains;
    const hit = list.find((d) => d.domain.toLowerCase() === domain.toLowerCase());
    return hit ? toCustomDomain(hit) : null;
  }

  /** Triggers a deployment of the service's current source and config; returns the deployment id. */
  async deployService(input: { serviceId: string; environmentId: string }): Promise<string> {
    return (await this.call('ServiceInstanceDeploy', input)).serviceInstanceDeployV2;
  }

  async getDeployment(id: string): Promise<{ id: string; status: string }> {
    const d = (await this.call('Deployment', { id })).deployment;
    return { id: d.id, status: d.status };
  }

  async listDeployments(
    input: { projectId: string; environmentId: string; serviceId: string },
    first = 5,
  ): Promise<{ id: string; status: string }[]> {
    return (await this.call('Deployments', { input, first })).deployments.edges.map((e) => ({
      id: e.node.id,
      status: e.node.status,
    }));
  }

  async removeDeployment(id: string): Promise<void> {
    await this.call('DeploymentRemove', { id });
  }

  async deleteProject(id: string): Promise<void> {
    await this.call('ProjectDelete', { id });
  }
}

function toCustomDomain(d: z.infer<typeof customDomain>): RailwayCustomDomain {
  const own = d.domain.toLowerCase().replace(/\.$/, '');
  const cname = (d.status?.dnsRecords ?? []).find((r) => {
    const value = (r.requiredValue ?? '').toLowerCase().replace(/\.$/, '');
    return /CNAME/i.test(r.recordType ?? '') && value !== '' && value !== own;
  });
  return { id: d.id, domain: d.domain, cnameTarget: cname?.requiredValue?.replace(/\.$/, '') ?? null };
}
