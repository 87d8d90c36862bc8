import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRoute, shapeResponse } from '../../worker/src/http/contract.js';
import type { AppEnv } from '../../worker/src/http/env.js';
import { RawJson, stringifyAnswer } from '../../worker/src/http/raw-json.js';

// JSON text as SQLite's json_group_array writes it, with characters a naive splice would mangle:
// `$&` and `$1` (String.replace patterns), an escaped quote, non-ASCII, a NUL written as \u0000.
const LIST = '[{"id":"a$&b","status":"online","working_on":"say \\"hi\\" $1 ü \\u0000raw-"}]';
const PARSED = JSON.parse(LIST);

describe('RawJson (issue 11: a list SQLite built goes out without parse and re-serialization)', () => {
  it('writes the text where the field stands, in key order, byte for byte', () => {
    const text = stringifyAnswer({ first: 1, list: new RawJson(LIST), last: 'x' });
    expect(text).toBe(`{"first":1,"list":${LIST},"last":"x"}`);
    expect(JSON.parse(text)).toEqual({ first: 1, list: PARSED, last: 'x' });
  });

  it('several raw fields, and answers with none, serialize as JSON.stringify does', () => {
    const value = { a: new RawJson('[1,2]'), b: { c: 'd' }, e: new RawJson('[]') };
    expect(stringifyAnswer(value)).toBe('{"a":[1,2],"b":{"c":"d"},"e":[]}');
    const plain = { s: 'text with \u0000raw-0 in it', n: [1, null, { x: true }] };
    expect(stringifyAnswer(plain)).toBe(JSON.stringify(plain));
  });

  it('stringified any other way, it is the parsed value (never a placeholder)', () => {
    expect(JSON.parse(JSON.stringify({ list: new RawJson(LIST) }))).toEqual({ list: PARSED });
  });

  it('a serialization that throws leaves no placeholder mode behind', () => {
    const cyclic: Record<string, unknown> = { list: new RawJson('[1]') };
    cyclic.self = cyclic;
    expect(() => stringifyAnswer(cyclic)).toThrow();
    expect(JSON.stringify({ list: new RawJson('[1]') })).toBe('{"list":[1]}');
  });

  it('the contract checks a raw field by its name and drops one the schema does not name', () => {
    const schema = z.object({ list: z.array(z.unknown()).optional(), n: z.number() });
    const shaped = shapeResponse({ method: 'get', path: '/x' }, schema, {
      list: new RawJson(LIST),
      secret: new RawJson('["k"]'),
      n: 1,
    }) as Record<string, unknown>;
    expect(Object.keys(shaped).sort()).toEqual(['list', 'n']);
    expect(stringifyAnswer(shaped)).toBe(`{"list":${LIST},"n":1}`);
    // A raw field where the schema wants something else than a list is the route's bug: refused.
    const strict = z.object({ list: z.string() });
    expect(() => shapeResponse({ method: 'get', path: '/x' }, strict, { list: new RawJson('[]') })).toThrow(
      /violates its contract at list/,
    );
  });

  it('a route answering a raw field sends it as application/json', async () => {
    const app = new Hono<AppEnv>();
    defineRoute(
      app,
      {
        method: 'get',
        path: '/raw',
        summary: 'raw',
        tags: ['Test'],
        access: 'public',
        response: z.object({ list: z.array(z.unknown()), n: z.number() }),
      },
      () => ({ list: new RawJson(LIST), n: 2 }),
    );
    const res = await app.request('/raw');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text).toBe(`{"list":${LIST},"n":2}`);
    expect(JSON.parse(text).list).toEqual(PARSED);
  });
});
