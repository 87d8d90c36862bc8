// Runs wrangler (fetched on demand with npx, so it is not a dependency every clone installs) in the
// newest major-4 release this Node can run: wrangler 4.87 and later need Node 22, 4.86 is the last
// one for Node 20. `node scripts/wrangler.mjs deploy`, `node scripts/wrangler.mjs dev`, …
import { spawnSync } from 'node:child_process';

const [major, minor] = process.versions.node.split('.').map(Number);
const version = major > 22 || (major === 22 && minor >= 12) ? '4' : '4.86.0';
const args = ['--yes', `wrangler@${version}`, ...process.argv.slice(2)];
console.log(`npx ${args.join(' ')}   (Node ${process.versions.node})`);
const r = spawnSync('npx', args, { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
