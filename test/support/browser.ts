/**
 * A real Chromium (Debian's `chromium`, driven by playwright-core, which downloads no browser) for
 * the console's tests. Missing chromium skips the test loudly, or fails it under DF_E2E_REQUIRED=1.
 * Each page records what the browser console reports as errors and uncaught exceptions, so a test
 * can assert that none happened; screenshots go to a directory the test prints.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestContext } from 'vitest';
import { requireTools, type ToolNeed } from './registry/tools.ts';

export const CHROMIUM: ToolNeed = { bin: 'chromium', pkg: 'chromium' };
const CHROMIUM_PATH = '/usr/bin/chromium';
// No update checks, sync or field trials: the test's traffic is the console's, on loopback only.
const CHROMIUM_ARGS = ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps', '--no-first-run', '--disable-field-trial-config', '--metrics-recording-only'];

/** Launches Chromium (closed when the test ends), or skips/fails as `requireTools` does. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  requireTools(t, [CHROMIUM]);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
  t.onTestFinished(() => browser.close());
  return browser;
}

export interface ConsolePage {
  readonly page: Page;
  /** Browser console errors and uncaught page errors so far, in order. */
  readonly errors: string[];
  /** Every request URL the page made, in order. */
  readonly requests: string[];
  /** Saves a full-page screenshot as `<dir>/<name>.png` and returns its path. */
  shot(name: string): Promise<string>;
}

export async function openPage(browser: Browser, shotDir: string, viewport = { width: 1280, height: 800 }): Promise<ConsolePage> {
  await mkdir(shotDir, { recursive: true });
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('request', (request) => requests.push(request.url()));
  const shot = async (name: string) => {
    const path = join(shotDir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  };
  return { page, errors, requests, shot };
}
