// Restore jobs' work folders (`<data folder>/restores/<job>/`, `RestoreRun.workDir`): made when a
// restore job starts and removed when it ends. A process killed mid-restore leaves its folder
// (a spool that can be as large as the records restored); maintenance removes every folder
// whose job is over or gone, and leaves those of jobs still pending or running. A restore
// dialog's plan reads what the restore will read, so it gets a folder too
// (`<data folder>/restore-plans/<random>/`, removed when the plan is made; maintenance removes
// those a killed process left, once older than any plan can run), not the system's temporary
// folder, which may be a small tmpfs.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { FINAL_JOB_STATES, Job } from '../jobs/entities.ts';

export function restoreWorkDir(dataDir: string, jobId: string): string {
  return join(dataDir, 'restores', jobId);
}

/** A new work folder for one restore plan (made, mode 0700). */
export async function makePlanWorkDir(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'restore-plans', randomUUID());
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A plan runs at most this long (the restore dialog's timeout is 2 minutes). */
export const PLAN_WORK_DIR_MAX_AGE_MS = 60 * 60_000;

/** Removes plan work folders older than PLAN_WORK_DIR_MAX_AGE_MS (left by a killed process). */
export async function deleteLeftoverPlanWorkDirs(dataDir: string, now: Date): Promise<number> {
  const root = join(dataDir, 'restore-plans');
  const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  let deleted = 0;
  for (const name of names) {
    const made = await stat(join(root, name)).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (made === undefined || now.getTime() - made < PLAN_WORK_DIR_MAX_AGE_MS) continue;
    await rm(join(root, name), { recursive: true, force: true });
    deleted++;
  }
  return deleted;
}

/** Removes the work folders of restore jobs no longer pending or running; returns how many. */
export async function deleteLeftoverWorkDirs(em: EntityManager, dataDir: string): Promise<number> {
  const root = join(dataDir, 'restores');
  const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  let deleted = 0;
  for (const name of names) {
    const job = await em.findOne(Job, { id: name }, { fields: ['id', 'state'] });
    if (job && !FINAL_JOB_STATES.includes(job.state)) continue;
    await rm(join(root, name), { recursive: true, force: true });
    deleted++;
  }
  return deleted;
}
