// How long a compare's result is kept: as long as the Jobs page lists its job (7 days), which is
// where "View result" is. Maintenance deletes older results, and the pieces a compare that died
// mid-run left behind (`.partial` files, a live side's scratch repository) once they are a day
// old; the purge of an organization deletes all of them.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const COMPARE_RESULT_DAYS = 7;
const DAY_MS = 24 * 3600_000;

function isLeftover(name: string): boolean {
  return name.endsWith('.partial') || name.endsWith('.live');
}

/** Deletes results older than COMPARE_RESULT_DAYS and day-old leftovers; returns the entries deleted. */
export async function deleteExpiredCompares(dataDir: string, now: Date): Promise<number> {
  const root = join(dataDir, 'compares');
  let organizations: string[];
  try {
    organizations = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let deleted = 0;
  for (const organization of organizations) {
    const folder = join(root, organization);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const path = join(folder, name);
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      const keptMs = isLeftover(name) ? DAY_MS : COMPARE_RESULT_DAYS * DAY_MS;
      if (now.getTime() - info.mtimeMs < keptMs) continue;
      await rm(path, { recursive: true, force: true });
      deleted++;
    }
  }
  return deleted;
}

/** The purge of an organization: every compare result it still has. */
export async function deleteOrganizationCompares(dataDir: string, organizationId: string): Promise<void> {
  await rm(join(dataDir, 'compares', organizationId), { recursive: true, force: true });
}
