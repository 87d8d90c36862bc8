import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { AppError } from '../worker/src/http/errors.js';
import type { Argon2idDerive, Argon2Params } from '../worker/src/auth/passwords.js';

interface Job {
  id: number;
  password: Uint8Array;
  salt: Uint8Array;
  params: Argon2Params;
  resolve: (out: Uint8Array) => void;
  reject: (err: Error) => void;
}

export interface PasswordPoolOptions {
  /** Worker threads (default: cores − 1, at least 1, at most 4: one core stays for requests). */
  size?: number;
  /** Derivations waiting for a thread beyond which new ones are refused with 503 (default 64). */
  maxQueue?: number;
}

/**
 * argon2id on worker threads with a bounded queue. Each derivation is ~0.2 s of CPU and 19 MiB;
 * on the main thread a burst of logins (no credentials needed to send them) delayed every other
 * request by seconds. Here a burst waits in the queue, and past `maxQueue` gets a 503 with
 * Retry-After instead of growing without bound. Threads start on first use and never keep the
 * process alive.
 */
export function createPasswordPool(opts: PasswordPoolOptions = {}) {
  const size = opts.size ?? Math.max(1, Math.min(4, availableParallelism() - 1));
  const maxQueue = opts.maxQueue ?? 64;
  const idle: Worker[] = [];
  const all: Worker[] = [];
  const running = new Map<Worker, Job>();
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;

  const spawnWorker = () => {
    const w = new Worker(new URL('./argon2-worker.mjs', import.meta.url));
    w.unref();
    w.on('message', (msg: { id: number; out?: Uint8Array; error?: string }) => {
      const job = running.get(w);
      running.delete(w);
      if (job && job.id === msg.id) {
        if (msg.error || !msg.out) job.reject(new Error(`argon2id failed: ${msg.error}`));
        else job.resolve(new Uint8Array(msg.out));
      }
      idle.push(w);
      pump();
    });
    w.on('error', (err) => {
      const job = running.get(w);
      running.delete(w);
      all.splice(all.indexOf(w), 1);
      job?.reject(err);
      pump();
    });
    all.push(w);
    return w;
  };

  const pump = () => {
    while (queue.length && !closed) {
      const w = idle.pop() ?? (all.length < size ? spawnWorker() : undefined);
      if (!w) return;
      const job = queue.shift()!;
      running.set(w, job);
      w.postMessage({ id: job.id, password: job.password, salt: job.salt, params: job.params });
    }
  };

  const derive: Argon2idDerive = (password, salt, params) => {
    if (closed) return Promise.reject(new Error('password pool closed'));
    if (queue.length >= maxQueue) {
      return Promise.reject(
        new AppError(
          503,
          'Server busy: too many password checks in progress. Try again shortly.',
          {},
          { 'Retry-After': '2' },
        ),
      );
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      queue.push({ id: nextId++, password, salt, params, resolve, reject });
      pump();
    });
  };

  return {
    derive,
    get queued() {
      return queue.length;
    },
    async close() {
      closed = true;
      for (const j of queue.splice(0)) j.reject(new Error('password pool closed'));
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}
