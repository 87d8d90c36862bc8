import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

/** Issue 15: the OpenAPI document is generated from the route contracts and validates. */

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('GET /api/mycelium/openapi.json (issue 15)', () => {
  it('serves an OpenAPI 3.1 document that a standard validator accepts', async () => {
    const r = await t.call('GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const v = new Validator();
    const res = await v.validate(r.body);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
  });

  it('describes a contract route with its security, parameters and shaped answer', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    const put = doc.paths['/api/mycelium/tasks/{id}'].put;
    expect(put.tags).toEqual(['Tasks']);
    expect(put.security).toContainEqual({ AgentKey: [] });
    expect(put.parameters.map((p: { name: string }) => p.name)).toEqual(['id']);
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409']));
    const task = doc.components.schemas.Task;
    expect(Object.keys(task.properties)).toContain('title');
    // The claim's fencing token is not part of a task row: the contract keeps it out of answers.
    expect(Object.keys(task.properties)).not.toContain('lease_token');
  });
});
