// Headless Debian chromium driven by playwright-core (scripts/install-browser.sh installs it): the launch, and a page
// opened with its console errors collected and waited on until it sets one of its window flags. The browser tests
// and the Chromium bench share it.
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why chromium cannot run here, or null. */
export const chromiumMissing = (): string | null => (existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (scripts/install-browser.sh)`);

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught exceptions of the page so far (kept up to date). */
  errors: string[];
  /** The value of the window flag the page set, by name. */
  flags: Record<string, unknown>;
}

/** Opens url in a new page and waits (up to timeoutMs) until the page sets one of `flags` on window. */
export async function openPage(browser: Browser, url: string, flags: readonly string[], timeoutMs = 120_000): Promise<OpenedPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('pageerror', (e) => void errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction((names) => names.some((n) => n in window), flags, { timeout: timeoutMs });
  const values = await page.evaluate((names) => names.map((n) => (window as never as Record<string, unknown>)[n]), flags);
  const set = Object.fromEntries(flags.map((n, i) => [n, values[i]]).filter(([, v]) => v !== undefined));
  return { page, errors, flags: set };
}
