// vitest globalSetup for the worker project: bundle the Worker once per run.
import { buildWorker } from '../../scripts/build-worker.mjs';

export default async function setup() {
  process.env.MYCELIUM_WORKER_BUNDLE = await buildWorker();
}
