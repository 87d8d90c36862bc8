/**
 * The app's composition root, imported only after the embedded dashboard and docs
 * (`worker/src/{dashboard,docs}/assets.generated.js`, build output a fresh clone lacks) are generated:
 * a static import would fail to resolve before any line of the bench ran.
 */
import { genDashboard } from '../scripts/gen-dashboard.mjs';

export async function loadApp(): Promise<typeof import('../worker/src/app.js')> {
  genDashboard();
  return import('../worker/src/app.js');
}
