// Who owns a repository lock, precisely enough to tell that the owner is gone: host name, boot id
// and pid namespace (Linux: /proc), pid and the process's start time. On the same host, boot and
// pid namespace a lock whose pid no longer runs, or runs a process started at another time (a
// reused pid), belongs to a dead process. Anything else (another host, another container, a
// system without /proc) is judged only by the lock's expiry.
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockOwner {
  host: string;
  pid: number;
  /** Linux boot id: a pid means the same process only within one boot. */
  boot?: string;
  /** The pid namespace (containers on one host may share a host name but not their pids). */
  pidns?: string;
  /** The process's start time in clock ticks since boot (from /proc/<pid>/stat). */
  started?: string;
}

const readOr = (read: () => string): string | undefined => {
  try {
    return read().trim();
  } catch {
    return undefined;
  }
};

const boot = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
const pidns = readOr(() => readlinkSync('/proc/self/ns/pid'));

/** Start time of a process of this pid namespace, or undefined when no such process runs. */
function startTime(pid: number): string | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'latin1'));
  if (!stat) return undefined;
  // Fields after the command name (which may hold spaces and parentheses): state is field 3,
  // starttime field 22.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export function lockOwner(pid: number): LockOwner {
  const started = boot && pidns ? startTime(pid) : undefined;
  return { host: hostname(), pid, ...(boot && pidns && started ? { boot, pidns, started } : {}) };
}

/** Why the lock's owner is known to be gone, or undefined when it may still run. */
export function describeOwnerDeath(owner: LockOwner): string | undefined {
  if (!owner.boot || !boot || owner.host !== hostname() || owner.boot !== boot || owner.pidns !== pidns)
    return undefined;
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return undefined;
  const started = startTime(owner.pid);
  if (started === undefined) return `process ${owner.pid} on ${owner.host} is gone`;
  if (started !== owner.started) return `process ${owner.pid} on ${owner.host} is another process now (pid reused)`;
  return undefined;
}
