import { startServer, type RunningServer } from './server.js';
import { FatalStartupError } from './secrets.js';
import { ConfigError } from '../worker/src/config.js';

/** `npm start`: the self-host entry point. */
async function main() {
  process.on('unhandledRejection', (err) => {
    // One failed background task must not take the server down (spec 07 REL-12): log it.
    console.error(`[error] unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  });
  let server: RunningServer | undefined;
  let requested: string | null = null;
  const shutdown = (signal: string) => {
    // The handlers are installed before start-up (a supervisor may signal the moment the ready line
    // appears); a signal that arrives while starting is honoured as soon as the server exists.
    requested = signal;
    if (!server) return;
    console.log(`${signal} received: finishing in-flight requests, closing the database`);
    const hard = setTimeout(() => {
      console.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 11_000);
    hard.unref();
    server.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    server = await startServer();
  } catch (err) {
    if (err instanceof FatalStartupError || err instanceof ConfigError) {
      console.error(`FATAL: ${err.message}`);
      process.exit(1);
    }
    console.error(`FATAL: could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  }
  if (requested) shutdown(requested);
}

main();
