// One argon2id derivation per message, off the main thread (node-adapter/password-pool.ts).
// Plain JavaScript so it loads the same under `tsx`, vitest and plain node.
import { parentPort } from 'node:worker_threads';
import { argon2id } from '@noble/hashes/argon2.js';

parentPort.on('message', ({ id, password, salt, params }) => {
  try {
    const out = argon2id(password, salt, params);
    parentPort.postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
