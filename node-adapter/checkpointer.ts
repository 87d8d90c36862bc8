import { Worker } from 'node:worker_threads';

/**
 * Checkpoints of one SQLite file in WAL mode, run on a worker thread (checkpoint-worker.mjs).
 *
 * Why: SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, on the
 * connection that committed — here the one connection of the event loop — and includes an fsync
 * of the database file. On this machine that made one commit in every ~60 of a task claim take
 * tens of milliseconds, and every request waited behind it (bench/README.md, "checkpoints"). The
 * thread does the copying and the fsync instead; the main connection keeps a high automatic
 * threshold only as a safety net (and to restart the WAL from its beginning: a checkpoint that
 * races with writers rarely catches the last frame, so the log would otherwise only grow), which
 * then finds most pages already copied.
 *
 * Nudged, not polled: an idle server's thread sleeps. `nudge()` after a commit asks for a
 * checkpoint at most every `intervalMs`.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Checkpoint passes the thread has answered (tests). */
  passes = 0;

  constructor(
    file: string,
    private readonly intervalMs = 100,
    private readonly onError: (message: string) => void = () => undefined,
  ) {
    // The thread runs a few lines of JavaScript around SQLite calls: small heaps keep its memory small.
    this.worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), {
      workerData: { file },
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    this.worker.unref();
    this.worker.on('message', (m: { error?: string }) => {
      this.passes++;
      if (m.error && !/busy|locked/i.test(m.error)) this.onError(m.error);
    });
    this.worker.on('error', (err) => this.onError(err.message));
  }

  nudge(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) this.worker.postMessage('checkpoint');
    }, this.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const stopped = new Promise<void>((resolve) => {
      this.worker.on('message', (m: { stopped?: boolean }) => m.stopped && resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage('stop');
    await stopped;
    await this.worker.terminate();
  }
}
