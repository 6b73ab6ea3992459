// Headless Chromium from Debian, driven by playwright-core (which downloads no browser).
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium } from 'playwright-core';
import { STEP_TIMEOUT_MS } from './budgets.ts';

export { STEP_TIMEOUT_MS };

export const CHROMIUM_PATH = process.env.HOLDFAST_CHROMIUM ?? '/usr/bin/chromium';

/** `extraArgs`: more Chromium switches, e.g. `--host-resolver-rules=MAP idp.test 127.0.0.1` for a second site. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it with 'apt-get install -y chromium'`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: STEP_TIMEOUT_MS,
    // This machine has no network beyond loopback: keep Chromium from trying.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      ...extraArgs,
    ],
  });
}

/** A browser context whose steps wait up to STEP_TIMEOUT_MS (Playwright's default is 30 s). */
export async function newBrowserContext(browser: Browser, options: BrowserContextOptions): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return context;
}
