import type { Credentials, Principal } from '../auth/principal.js';

/** Hono environment of the app: per-request variables set by the pipeline and the guards. */
export type AppEnv = {
  Variables: {
    requestId: string;
    clientIp: string;
    /** Parsed JSON body ({} when there is none or it is not JSON). */
    body: unknown;
    /** The request body bytes as received (unset for GET/HEAD/OPTIONS). */
    rawBody?: Uint8Array;
    /** Reads the body once (deferred until authentication on guarded routes); see http/body.ts. */
    loadBody?: () => Promise<void>;
    credentials: Credentials;
    principal: Principal;
  };
};
