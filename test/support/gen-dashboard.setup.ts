// vitest globalSetup for the node project: embed the dashboard's files (as `npm test` does), so a
// bare `npx vitest run --project node` works on a fresh clone too. The worker project's bundle
// step does the same.
import { genDashboard } from '../../scripts/gen-dashboard.mjs';

export default function setup() {
  genDashboard();
}
