import type { AppContext } from '../context.js';
import { AGENT_KEY_PATTERN } from '../auth/agent-keys.js';
import { Credentials, resolveAny, type Principal } from '../auth/principal.js';
import { AppError } from '../http/errors.js';
import { INHERITED } from './dispatch.js';

/** Where the protected-resource metadata lives (RFC 9728), relative to the instance URL. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * The credential headers an MCP request carries, as REST expects them. Hosted MCP clients can
 * often send only `Authorization: Bearer …`, so a bearer that is an agent key (`dvk_…`) is read as
 * `X-Agent-Key`; any other bearer stays an operator JWT. Nothing else is widened.
 */
export function credentialHeaders(incoming: Headers): Headers {
  const h = new Headers();
  for (const name of INHERITED) {
    const v = incoming.get(name);
    if (v !== null) h.set(name, v);
  }
  const bearer = incoming.get('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (bearer && AGENT_KEY_PATTERN.test(bearer) && !h.has('x-agent-key')) {
    h.delete('authorization');
    h.set('x-agent-key', bearer);
  }
  return h;
}

/** `WWW-Authenticate` of a 401 (RFC 6750 §3, RFC 9728 §5.1): names the metadata that explains how to authenticate. */
function challenge(baseUrl: string, error?: 'invalid_token'): string {
  const parts = [`Bearer realm="mycelium"`, `resource_metadata="${baseUrl}${RESOURCE_METADATA_PATH}"`];
  if (error) parts.push(`error="${error}"`, 'error_description="The credential is not valid"');
  return parts.join(', ');
}

/**
 * The caller of an MCP request, resolved with the REST resolver so identity means the same on both
 * surfaces. No credential → 401 with a challenge; a credential that does not verify → 401
 * `invalid_token` (the MCP authorization spec wants 401 there, where REST answers 403); a locked-out
 * address keeps its 429.
 */
export async function mcpPrincipal(app: AppContext, headers: Headers, ip: string, baseUrl: string): Promise<Principal> {
  if (!headers.has('x-agent-key') && !headers.has('x-admin-key') && !headers.has('authorization')) {
    throw new AppError(
      401,
      'Authentication required: send X-Agent-Key, X-Admin-Key or Authorization: Bearer <operator token or agent key>',
      {},
      { 'WWW-Authenticate': challenge(baseUrl) },
    );
  }
  try {
    return await resolveAny(new Credentials(app, headers, ip));
  } catch (err) {
    if (err instanceof AppError && (err.status === 401 || err.status === 403)) {
      throw new AppError(401, err.message, {}, { 'WWW-Authenticate': challenge(baseUrl, 'invalid_token') });
    }
    throw err;
  }
}

/** RFC 9728 protected-resource metadata for the MCP endpoint. */
export function resourceMetadata(baseUrl: string) {
  return {
    resource: `${baseUrl}/api/mycelium/mcp`,
    resource_name: 'Mycelium MCP endpoint',
    authorization_servers: [],
    bearer_methods_supported: ['header'],
    resource_documentation: `${baseUrl}/docs`,
    // Not registered RFC 9728 fields: how this first release authenticates (static credentials, no OAuth flow yet).
    mycelium_credentials: [
      { header: 'X-Agent-Key', value: 'an agent key (dvk_…)', acts_as: 'that agent' },
      {
        header: 'Authorization',
        value: 'Bearer <agent key> or Bearer <operator JWT from POST /api/mycelium/studio/login>',
        acts_as: 'that agent or operator',
      },
      {
        header: 'X-Admin-Key',
        value: 'the instance admin key (optionally with X-Acting-As: <agent id>)',
        acts_as: 'admin',
      },
    ],
  };
}
