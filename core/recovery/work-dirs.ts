// Restore jobs' work folders (`<data folder>/restores/<job>/`, `RestoreRun.workDir`): made when a
// restore job starts and removed when it ends. A process killed mid-restore leaves its folder
// (a spool that can be as large as the records restored); maintenance removes every folder
// whose job is over or gone, and leaves those of jobs still pending or running.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { FINAL_JOB_STATES, Job } from '../jobs/entities.ts';

export function restoreWorkDir(dataDir: string, jobId: string): string {
  return join(dataDir, 'restores', jobId);
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
