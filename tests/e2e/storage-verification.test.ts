// Immutability and scheduled verification in a real browser against the real appliance process:
// an S3 location with Object Lock (s3rver behind the loopback Object Lock gate) listed with its
// policy and "Locking enforced", and the built-in location's verification page after a byte was
// flipped in a pack of a real backup: "Verify now" queues a job whose end shows the damage, the
// lost items and the repair; "Repair the snapshots" (confirmed) runs as a job too. Both pages at 1280 and 390 px (tests/.artifacts/screenshots/), no sideways scrolling.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageLocation } from '../../core/storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID, createLocation } from '../../core/storage-locations/locations.ts';
import { verificationOf } from '../../core/storage-locations/verification.ts';
import { type ObjectLockGate, startObjectLockGate } from '../fakes/s3-object-lock-gate.ts';
import { type ApplianceWithTask, startApplianceWithTask } from '../helpers/appliance-task.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3rver.ts';

const dir = tempDir();
let browser: Browser;
let setup: ApplianceWithTask;
let s3: LoopbackS3;
let gate: ObjectLockGate;

beforeAll(async () => {
  [setup, s3] = await Promise.all([
    startApplianceWithTask(dir.path, 'Mailboxes', { account: 'finance', items: 4 }),
    startS3rver(['worm-bucket']),
  ]);
  gate = await startObjectLockGate(s3.endpoint);
  browser = await launchChromium();
  await setup.backupAndWait();
  const em = setup.kernel.orm.em.fork();
  await createLocation(
    { em, credentials: setup.kernel.credentials, storageDir: setup.kernel.deps.config.storageDir },
    em.merge(setup.admin.organization),
    {
      name: 'Immutable object storage (Frankfurt)',
      kind: 's3',
      settings: {
        endpoint: gate.endpoint,
        bucket: 'worm-bucket',
        accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
        secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
        forcePathStyle: true,
        objectLockMode: 'COMPLIANCE',
        immutabilityDays: 30,
      },
    },
    'json',
    { label: ADMIN.email },
    new Date(),
  );
  // Every pack read back by one run.
  const builtin = await em.findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
  (await verificationOf(em, builtin)).samplePercent = 100;
  await em.flush();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await setup?.close();
  await gate?.close();
  await s3?.stop();
  dir.remove();
});

describe('immutability and verification in a browser', () => {
  it('lists the immutable location with its proven lock, and shows the damage a verification finds', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, setup.appliance.url);
    await page.goto(`${setup.appliance.url}/settings/storage`);
    await page.getByText('Immutable 30 days · COMPLIANCE').waitFor();
    expect(await page.getByText('Locking enforced: the store refused to delete a locked test object.').count()).toBe(1);
    expect(await screenshotBothWidths(page, 'storage-immutable-location')).toBe(0);

    // Bytes flipped all through the backup's first pack (past its first tar header), so blobs are hit.
    const org = setup.admin.organization.id;
    const data = join(setup.kernel.deps.config.storageDir, 'organizations', org, 'data');
    const folder = readdirSync(data)[0] as string;
    const pack = join(data, folder, readdirSync(join(data, folder))[0] as string);
    const bytes = readFileSync(pack);
    for (let at = 600; at < bytes.length - 1100; at += 512) bytes[at] = (bytes[at] as number) ^ 0xff;
    writeFileSync(pack, bytes);

    await page.goto(`${setup.appliance.url}/settings/storage/${BUILTIN_LOCATION_ID}/verification`);
    await page.getByText('Not run yet.').waitFor();
    await page.getByRole('button', { name: 'Verify now' }).click();
    await page.getByText('The verification has started; its result shows here when it ends.').waitFor();
    // The job runs in the appliance's workers; the jobs panel polls and reloads the page when it ends.
    await page.locator('#verification-state').waitFor({ timeout: 60_000 });
    expect(await page.locator('#location-jobs [data-state="succeeded"]').count()).toBe(1);
    expect(await page.locator('#verification-state').innerText()).toBe('Damage found');
    expect(await page.locator('#verification-problems li').count()).toBeGreaterThan(0);
    expect(await page.locator('#verification-repairs').innerText()).toContain('holdfast repo repair snapshots');
    expect(await page.getByRole('button', { name: 'Repair the snapshots…' }).count()).toBe(1);
    expect(await page.locator('#verification-lost tbody tr').count()).toBe(1);
    expect(await screenshotBothWidths(page, 'storage-verification-damage')).toBe(0);

    // Recovery marks the damaged snapshot, and its page names what it lost.
    const entityPage = `${setup.appliance.url}/recovery/tasks/${setup.task.id}/entities/${setup.entity.id}`;
    await page.goto(entityPage);
    expect(await page.locator('#recovery-snapshots .badge-danger').first().innerText()).toMatch(
      /^damaged: (\d+ items?|\d+ ranges? of items)( and \d+ ranges? of items)? lost$/,
    );
    expect(await screenshotBothWidths(page, 'recovery-damaged-snapshot-list')).toBe(0);
    await page.locator('#recovery-snapshots').getByRole('link', { name: 'Browse' }).first().click();
    await page.locator('#snapshot-damage').waitFor();
    expect(await screenshotBothWidths(page, 'recovery-damaged-snapshot')).toBe(0);
    await page.goto(`${setup.appliance.url}/settings/storage/${BUILTIN_LOCATION_ID}/verification`);

    // The account's restore drill policy on Settings › Account.
    await page.goto(`${setup.appliance.url}/settings/account`);
    await page.getByLabel('Run a drill every (days)').fill('14');
    await page.getByRole('button', { name: 'Save drill policy' }).click();
    await page.getByText('The restore drill policy has been saved.').waitFor();
    expect(await page.locator('#drill-policy-now').innerText()).toBe('every 14 days');
    await page.locator('#drill-policy').scrollIntoViewIfNeeded();
    expect(await screenshotBothWidths(page, 'settings-account-drill-policy')).toBe(0);
    await page.goto(`${setup.appliance.url}/settings/storage/${BUILTIN_LOCATION_ID}/verification`);

    // The repair from the page: confirmed, run as a job, followed by a verification.
    await page.getByRole('button', { name: 'Repair the snapshots…' }).click();
    await page.locator('#repair-confirm').waitFor();
    expect(await screenshotBothWidths(page, 'storage-verification-repair-confirm')).toBe(0);
    await page.getByRole('button', { name: 'Repair the snapshots', exact: true }).click();
    await page.getByText('The snapshot repair has started; a verification follows it.').waitFor();
    await page.locator('#location-jobs [data-state="succeeded"]').nth(1).waitFor({ timeout: 60_000 });
    expect(await page.locator('#location-jobs li').first().innerText()).toContain('Snapshot repair');
    expect(await screenshotBothWidths(page, 'storage-verification-repaired')).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
