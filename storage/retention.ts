// Retention policies, applied per backed-up entity (task + entity): keep everything (the
// default), keep what is younger than a period in days, months or years, or keep the last N.
// The newest snapshot of an entity is always kept by the period rule, so an entity that stopped
// changing never loses its last copy; removing archived entities is the job of their own timer.
import type { SnapshotManifest } from './repository.ts';

export type RetentionPolicy =
  | { kind: 'all' }
  | { kind: 'within'; amount: number; unit: 'days' | 'months' | 'years' }
  | { kind: 'last'; count: number };

export interface RetentionDecision {
  keep: string[];
  forget: string[];
}

/** Parses "30d", "6m", "2y" (days, months, years). */
export function parsePeriod(text: string): RetentionPolicy {
  const match = /^(\d+)\s*([dmy])$/i.exec(text.trim());
  if (!match || Number(match[1]) < 1) throw new Error(`"${text}" is not a period like 30d, 6m or 1y`);
  const unit = ({ d: 'days', m: 'months', y: 'years' } as const)[(match[2] as string).toLowerCase() as 'd' | 'm' | 'y'];
  return { kind: 'within', amount: Number(match[1]), unit };
}

/**
 * The moment before which snapshots fall outside a period, in UTC calendar arithmetic. A month or
 * year back lands on the same day of the target month, or on its last day when it is shorter
 * (31 March − 1 month = 28 February; Date's own arithmetic would overflow to 3 March).
 */
export function cutoff(now: Date, amount: number, unit: 'days' | 'months' | 'years'): Date {
  const d = new Date(now.getTime());
  if (unit === 'days') {
    d.setUTCDate(d.getUTCDate() - amount);
    return d;
  }
  const months = unit === 'months' ? amount : amount * 12;
  const target = now.getUTCFullYear() * 12 + now.getUTCMonth() - months;
  const year = Math.floor(target / 12);
  const month = target - year * 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  d.setUTCFullYear(year, month, Math.min(now.getUTCDate(), lastDay));
  return d;
}

export function applyRetention(
  snapshots: { id: string; manifest: SnapshotManifest }[],
  policy: RetentionPolicy,
  now: Date = new Date(),
): RetentionDecision {
  const decision: RetentionDecision = { keep: [], forget: [] };
  const groups = new Map<string, { id: string; manifest: SnapshotManifest }[]>();
  for (const s of snapshots) {
    const key = JSON.stringify([s.manifest.task, s.manifest.entity]);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const group of groups.values()) {
    // Newest first.
    group.sort((a, b) => b.manifest.time.localeCompare(a.manifest.time) || b.id.localeCompare(a.id));
    group.forEach((s, index) => {
      let keep = true;
      if (policy.kind === 'last') keep = index < policy.count;
      else if (policy.kind === 'within')
        keep = index === 0 || Date.parse(s.manifest.time) >= cutoff(now, policy.amount, policy.unit).getTime();
      (keep ? decision.keep : decision.forget).push(s.id);
    });
  }
  return decision;
}
