import pkg from '../../package.json';

/** The server version reported by /health (package.json). */
export const VERSION: string = pkg.version;
