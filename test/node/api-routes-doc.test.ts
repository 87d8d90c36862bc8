import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiDocument, renderRoutesMarkdown } from '../../scripts/gen-api-routes.js';

/** Issue 15: docs/API-routes.md is generated from the route contracts and kept current. */
describe('docs/API-routes.md', () => {
  it('matches the document the route contracts generate (run `npm run gen:api-routes` when it does not)', async () => {
    const doc = await openApiDocument();
    const fresh = renderRoutesMarkdown(doc);
    expect(fresh).toContain('`/api/mycelium/tasks/{id}`');
    expect(readFileSync('docs/API-routes.md', 'utf8')).toBe(fresh);
  }, 60_000);
});
