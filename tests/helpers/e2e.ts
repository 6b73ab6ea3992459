// What every browser test does around its own steps: complete the first-run setup of a real
// appliance process, sign in through the login form, collect console errors (CSP refusals
// included), take screenshots at desktop and phone widths into tests/.artifacts/screenshots/, and
// measure sideways scrolling.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ADMIN } from './kernel.ts';
import { repoRoot } from './process.ts';

export const SCREENSHOTS = join(repoRoot, 'tests/.artifacts/screenshots');
export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Completes /setup over HTTP with the test administrator; throws unless it succeeds. */
export async function setupAdministrator(url: string): Promise<void> {
  const res = await fetch(`${url}/setup`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
    body: new URLSearchParams({ ...ADMIN, confirmPassword: ADMIN.password }).toString(),
  });
  if (res.status !== 303) throw new Error(`setup answered ${res.status}`);
}

/** Signs in through the login form and waits for the page it leads to. */
export async function signInPage(
  page: Page,
  url: string,
  email: string = ADMIN.email,
  password: string = ADMIN.password,
  landing = `${url}/`,
): Promise<void> {
  await page.goto(`${url}/login`);
  // E-mail first (home-realm discovery), then the password.
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(landing);
}

/**
 * Console errors of the page from now on. Failed requests with an expected status (a form
 * refused with 422, a probe of a 404) are left out when they match `expectedStatus`.
 */
export function consoleErrorsOf(page: Page, expectedStatus?: RegExp): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expectedStatus && /status of \d{3}/.test(m.text()) && expectedStatus.test(m.text())) return;
    errors.push(m.text());
  });
  return errors;
}

/** How many pixels the page scrolls sideways (0 when it fits its viewport). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
}

/** A full-page screenshot at the current viewport, as `<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * Screenshots at 1280 and 390 px (`<name>-desktop.png`, `<name>-phone.png`) and returns the
 * phone layout's sideways overflow; the viewport is desktop again afterwards.
 */
export async function screenshotBothWidths(page: Page, name: string): Promise<number> {
  await page.setViewportSize(DESKTOP);
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(PHONE);
  const overflow = await horizontalOverflow(page);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(DESKTOP);
  return overflow;
}
