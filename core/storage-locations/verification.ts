// Scheduled verification of storage locations: each location gets a schedule (default: every 24
// hours, 10% of the packs read back, so every pack is read at least every 10 runs). A run opens
// the repository of every organization with backups there and runs storage/scheduled-verify.ts
// under a shared lock (backups go on). Damage found is an exceptions notification to the
// location's owner — once per distinct damage, not once per run — and a System Activity entry for
// the owner and for each organization that lost items; the location's verification page lists
// the lost items of each snapshot and the repairs that fit, and the snapshots are marked in the
// catalog (Recovery shows what each lost: core/catalog/snapshot-damage.ts). The next backup of an item stores the
// damaged content again (storage/repository.ts recordDamaged, lost packs).
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { withLock } from '../../storage/locks.ts';
import { verifyOnSchedule } from '../../storage/scheduled-verify.ts';
import { recordActivity } from '../activity/activity-service.ts';
import { markSnapshotDamage } from '../catalog/snapshot-damage.ts';
import type { Database } from '../db/database.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { Logger } from '../logging.ts';
import { queueNotification } from '../notifications/queue.ts';
import { type RoundGuard, unguarded } from '../pass-loop.ts';
import { BackupTask } from '../tasks/entities.ts';
import { DEFAULT_LOCATION, type TaskStorage } from '../tasks/storage.ts';
import {
  type IStorageLocation,
  type IStorageVerification,
  StorageLocation,
  StorageVerification,
  type VerificationResult,
} from './entities.ts';

export const VERIFY_INTERVAL_MS = 3_600_000;

/** The location's schedule, created with the defaults on first use. */
export async function verificationOf(em: EntityManager, location: IStorageLocation): Promise<IStorageVerification> {
  const found = await em.findOne(StorageVerification, { location: location.id });
  if (found) return found;
  const row = em.create(StorageVerification, {
    location,
    samplePercent: 10,
    intervalHours: 24,
    runs: 0,
    lastRunAt: null,
    lastOk: null,
    lastResult: null,
    notifiedKey: null,
  });
  await em.flush();
  return row;
}

/** Checks and saves a schedule; field messages for bad values. */
export function scheduleProblems(input: { samplePercent: unknown; intervalHours: unknown }): Record<string, string> {
  const errors: Record<string, string> = {};
  const percent = Number(input.samplePercent);
  const hours = Number(input.intervalHours);
  if (!Number.isInteger(percent) || percent < 1 || percent > 100)
    errors.samplePercent = 'Enter a whole percentage from 1 to 100.';
  if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 31)
    errors.intervalHours = 'Enter a whole number of hours from 1 to 744.';
  return errors;
}

/** Organizations with backups at the location, and the name their tasks record for it. */
export async function repositoriesAt(
  em: EntityManager,
  location: IStorageLocation,
): Promise<[IOrganization, string][]> {
  const names = location.builtin ? [location.id, DEFAULT_LOCATION] : [location.id];
  const tasks = await em.find(BackupTask, { storageLocation: { $in: names } }, { populate: ['organization'] });
  const seen = new Map<string, [IOrganization, string]>();
  for (const t of tasks) seen.set(t.organization.id, [t.organization as IOrganization, t.storageLocation as string]);
  return [...seen.values()];
}

export interface VerifyDeps {
  storage: TaskStorage;
  log?: Logger;
}

/** One verification run of a location, recorded on its schedule; notifies and records activity on damage. */
export async function verifyLocation(
  em: EntityManager,
  deps: VerifyDeps,
  location: IStorageLocation,
  now: Date,
): Promise<VerificationResult> {
  const schedule = await verificationOf(em, location);
  const result: VerificationResult = {
    at: now.toISOString(),
    ok: true,
    packsRead: 0,
    packs: 0,
    cycleRuns: Math.ceil(100 / schedule.samplePercent),
    problems: [],
    lost: [],
    repairs: [],
    failures: [],
  };
  for (const [org, name] of await repositoriesAt(em, location)) {
    try {
      const opened = await deps.storage.open({
        id: `verification:${location.id}`,
        organizationId: org.id,
        storageLocation: name,
      });
      try {
        const report = await withLock(opened.repo.sink, 'shared', { purpose: 'scheduled verification' }, () =>
          verifyOnSchedule(opened.repo, { samplePercent: schedule.samplePercent, run: schedule.runs }),
        );
        result.packsRead += report.verify.packsRead;
        result.packs += report.verify.packs;
        const who = { organizationId: org.id, organizationName: org.name };
        for (const p of report.verify.problems) result.problems.push({ ...who, ...p });
        for (const l of report.lost) result.lost.push({ ...who, ...l });
        for (const r of report.repairs) if (!result.repairs.includes(r)) result.repairs.push(r);
        // The run saw the whole repository: its snapshots' marks become what it found.
        await markSnapshotDamage(em, opened.repo.id, report.lost, now);
      } finally {
        await opened.close();
      }
    } catch (err) {
      deps.log?.warn({ err, locationId: location.id }, 'scheduled verification could not read a repository');
      result.failures.push({ organizationName: org.name, message: (err as Error).message.slice(0, 500) });
    }
  }
  result.ok = result.problems.length === 0 && result.failures.length === 0;
  schedule.runs += 1;
  schedule.lastRunAt = now;
  schedule.lastOk = result.ok;
  schedule.lastResult = result;
  if (result.problems.length) await reportDamage(em, location, schedule, result, now);
  else schedule.notifiedKey = null;
  await em.flush();
  return result;
}

/** Notification (once per distinct damage) and System Activity entries. */
async function reportDamage(
  em: EntityManager,
  location: IStorageLocation,
  schedule: IStorageVerification,
  result: VerificationResult,
  now: Date,
): Promise<void> {
  const key = createHash('sha256')
    .update(JSON.stringify(result.problems.map((p) => `${p.organizationId} ${p.object}`).sort()))
    .digest('hex')
    .slice(0, 32);
  const owner = location.organization as IOrganization;
  const lostItems = result.lost.reduce((n, l) => n + l.items.length, 0);
  const summary =
    `Verification of the storage location ${location.name} found ${result.problems.length} problem(s)` +
    (lostItems || result.lost.some((l) => l.ranges.length)
      ? `; ${lostItems} item(s) of ${result.lost.length} snapshot(s) cannot be restored until a backup stores them again`
      : '; no item is lost') +
    (result.repairs.length ? `. Repairs: ${result.repairs.map((r) => `holdfast repo ${r}`).join(', ')}.` : '.');
  if (schedule.notifiedKey !== key) {
    schedule.notifiedKey = key;
    await queueNotification(em, {
      organizationId: owner.id,
      type: 'exceptions',
      eventKey: `verification:${location.id}:${key}`,
      payload: {
        event: 'verification',
        organizationName: owner.name,
        title: `Verification found damage at ${location.name}`,
        message: summary,
        items: result.lost.flatMap((l) => l.items.map((i) => `${l.entity}: ${i}`)).slice(0, 50),
        linkPath: `/settings/storage/${location.id}/verification`,
        linkLabel: 'Open the verification',
      },
      at: now,
    });
  }
  const orgs = new Map<string, string>([[owner.id, summary]]);
  for (const l of result.lost)
    if (l.organizationId !== owner.id)
      orgs.set(
        l.organizationId,
        `Verification of the storage location ${location.name} found items that cannot be restored in the snapshot of ${l.entity} taken ${l.time}: ${l.items.slice(0, 20).join(', ')}`,
      );
  await recordActivity(
    em,
    [...orgs].map(([id, text]) => ({
      organization: { id },
      activity: 'Verification' as const,
      status: 'failed' as const,
      at: now,
      summary: text,
    })),
  );
}

/** Runs the verifications that are due (their interval has passed since their last run). */
export async function runDueVerifications(orm: Database, deps: VerifyDeps, now: Date): Promise<number> {
  const em = orm.em.fork();
  let ran = 0;
  for (const location of await em.find(StorageLocation, {}, { populate: ['organization'] })) {
    const schedule = await verificationOf(em, location);
    const due =
      !schedule.lastRunAt || schedule.lastRunAt.getTime() + schedule.intervalHours * 3_600_000 <= now.getTime();
    if (!due || (await repositoriesAt(em, location)).length === 0) continue;
    await verifyLocation(em, deps, location, now);
    ran++;
  }
  return ran;
}

/** Checks for due verifications every hour; unref'd so it never holds the process open. */
export function startVerificationTimer(
  orm: Database,
  deps: VerifyDeps & { log: Logger },
  now: () => Date,
  intervalMs = VERIFY_INTERVAL_MS,
  /** One node of a cluster verifies at a time: a verification reads a whole location. */
  guard: RoundGuard = unguarded,
): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    guard(async () => {
      await runDueVerifications(orm, deps, now());
      return undefined;
    })
      .catch((err: unknown) => deps.log.warn({ err }, 'scheduled verification failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
