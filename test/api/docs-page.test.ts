/**
 * GET /docs (spec 01, issue 15): the interactive API reference renders from the instance itself in
 * real headless Chromium with every request outside the server refused, on both runtimes.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTarget, type Target } from '../support/target.js';
import { serveOverHttp, type HttpBridge } from '../support/http-bridge.js';
import { launchChromium } from '../support/browser.js';

let t: Target;
let bridge: HttpBridge;
let browser: Browser;

beforeAll(async () => {
  [t, browser] = await Promise.all([startTarget(), launchChromium()]);
  bridge = await serveOverHttp(t.fetch);
});
afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await t?.close();
});

describe('GET /docs', () => {
  it('renders the reference offline: tags of the document listed, no request leaves the instance', async () => {
    const context = await browser.newContext({ baseURL: bridge.url, viewport: { width: 1280, height: 900 } });
    const outside: string[] = [];
    const origin = new URL(bridge.url).origin;
    // No network: anything not addressed to the instance is refused and remembered.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto('/docs');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
    await page.locator('.opblock-tag').first().waitFor({ timeout: 20_000 });
    const tags = await page.locator('.opblock-tag').allInnerTexts();
    const doc = (await t.call('GET', '/openapi.json')).body as { tags: { name: string }[] };
    expect(doc.tags.length).toBeGreaterThan(0);
    const shown = tags.join('\n');
    for (const tag of doc.tags) expect(shown).toContain(tag.name);
    expect(shown).toContain('Tasks');
    mkdirSync('test-results', { recursive: true });
    const shot = await page.screenshot({ path: `test-results/docs-${process.env.VITEST_PROJECT ?? 'run'}.png` });
    expect(shot.byteLength).toBeGreaterThan(10_000);
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('serves its assets with ETags and answers 404 for unknown ones', async () => {
    const js = await t.fetch('/docs/assets/swagger-ui-bundle.js');
    expect(js.status).toBe(200);
    const etag = js.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    expect((await t.fetch('/docs/assets/swagger-ui-bundle.js', { headers: { 'If-None-Match': etag } })).status).toBe(
      304,
    );
    const missing = await t.fetch('/docs/assets/constructor');
    expect(missing.status).toBe(404);
  });
});
