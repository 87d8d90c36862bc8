/**
 * Debian's Chromium (/usr/bin/chromium, installed by .ci/run when missing) driven by
 * playwright-core, which downloads nothing. One browser per test file; each user gets its own
 * context (its own cookie jar). Playwright starts Chromium with a fresh temporary
 * --user-data-dir of its own and removes it on close.
 */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
