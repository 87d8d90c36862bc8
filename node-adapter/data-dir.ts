import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The core database's file name inside the data folder (plugins' databases live in `plugins/`). */
export const CORE_DB_FILE = 'mycelium.db';
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/**
 * Creates the data folder 0700 and tightens an existing one, and every database, secret and
 * backup file in it to 0600 (spec README: the data-folder promises hold for real).
 * Returns the paths it had to tighten, so start-up can say so.
 */
export function secureDataDir(dir: string, warn: (msg: string) => void = () => undefined): string[] {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const tightened: string[] = [];
  const fix = (path: string, mode: number) => {
    try {
      if ((statSync(path).mode & 0o777) !== mode) {
        chmodSync(path, mode);
        tightened.push(path);
      }
    } catch (err) {
      warn(`could not set mode ${mode.toString(8)} on ${path}: ${(err as Error).message}`);
    }
  };
  fix(dir, DIR_MODE);
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        fix(p, DIR_MODE);
        walk(p);
      } else if (entry.isFile()) {
        fix(p, FILE_MODE);
      }
    }
  };
  walk(dir);
  return tightened;
}

/** Makes sure a subfolder exists with the private mode. */
export function ensurePrivateDir(path: string): string {
  if (!existsSync(path)) mkdirSync(path, { recursive: true, mode: DIR_MODE });
  chmodSync(path, DIR_MODE);
  return path;
}
