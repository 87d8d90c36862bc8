// WAL checkpoints of one SQLite file, off the main thread (node-adapter/checkpointer.ts).
// Plain JavaScript so it loads the same under `tsx`, vitest and plain node.
//
// A checkpoint copies the WAL's pages into the database file and, under synchronous=NORMAL,
// fsyncs it: on the main thread that stalled every request behind it for milliseconds
// (bench/README.md, "checkpoints"). Here it runs on its own connection when the main thread says
// commits happened; a PASSIVE checkpoint never takes the write lock, so the server's writes go on
// meanwhile. A checkpoint already running elsewhere answers busy at once: the next nudge retries.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'libsql';

const db = new Database(workerData.file);
db.exec('PRAGMA busy_timeout = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

parentPort.on('message', (m) => {
  if (m === 'stop') {
    db.close();
    parentPort.postMessage({ stopped: true });
    return;
  }
  try {
    const r = checkpoint.get();
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
