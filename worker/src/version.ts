// A named import: bundles keep the version string, not the whole package.json.
import { version } from '../../package.json';

/** The server version reported by /health (package.json). */
export const VERSION: string = version;
