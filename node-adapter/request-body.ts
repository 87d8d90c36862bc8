import { IncomingMessage } from 'node:http';

/**
 * Request bodies read straight from Node's `IncomingMessage`. Through `req.body`, @hono/node-server
 * first builds the full web Request (an AbortController, a copy of the headers, a web stream over
 * the message) — ~20 % of the CPU of a small JSON write around its route's own work (bench/README.md
 * "In-process CPU per call"). The pipeline (http/pipeline.ts `jsonBody`) asks `runtime.readBody`
 * first, with the same bounds and budget, and falls back to `req.body` when this returns undefined:
 * requests the adapter did not receive itself (in-process calls such as the MCP tools' REST calls,
 * which carry the outer request's `env`; tests calling `app.fetch`), or a message already read.
 */
export function incomingBodies() {
  const received = new WeakMap<Request, IncomingMessage>();
  return {
    /** Wraps the app's fetch for `serve()`: remembers which message each request came from. */
    wrap<E, R>(fetch: (req: Request, env: E) => R): (req: Request, env: E) => R {
      return (req, env) => {
        const incoming = (env as { incoming?: unknown } | undefined)?.incoming;
        if (incoming instanceof IncomingMessage && req.method !== 'GET' && req.method !== 'HEAD')
          received.set(req, incoming);
        return fetch(req, env);
      };
    },
    /** Feeds the body's chunks to `onChunk` (which may throw to stop reading), or undefined (see above). */
    read(req: Request, onChunk: (chunk: Uint8Array) => void): Promise<void> | undefined {
      const incoming = received.get(req);
      received.delete(req);
      // Untouched only: once anything has read the message (a web stream over it) it is theirs.
      if (!incoming || incoming.readableFlowing !== null || incoming.readableEnded || incoming.destroyed) return;
      return readIncoming(incoming, onChunk);
    },
  };
}

function readIncoming(incoming: IncomingMessage, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  // A client that goes away after we stopped reading must not raise an unhandled 'error' (the web
  // stream this replaces kept its listener too); the adapter drains or closes the message afterwards.
  incoming.on('error', ignore);
  return new Promise<void>((resolve, reject) => {
    const finish = (err?: unknown) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
      if (err === undefined) return resolve();
      // Stop, but leave the message to the adapter (it drains what is left, then closes): destroying
      // it here would take the socket with it and the answer (413) could not be sent.
      incoming.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (err) {
        finish(err);
      }
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(err);
    const onClose = () => finish(new Error('request closed before its body ended'));
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

function ignore() {}
