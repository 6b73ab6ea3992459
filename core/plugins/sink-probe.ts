// The connection test for storage locations: writes, reads, lists and deletes one small probe
// object through the sink, and when a step fails names the cause in one sentence an operator can
// act on (DNS, TLS, credentials, missing bucket, permission, unreachable). The UI and the CLI call
// it before a location is saved or used. A location with immutability configured is also tested
// for it: a second probe is written locked, and deleting it must be refused by the store (a bucket
// without Object Lock, or a container without version-level immutability, fails here).
import { randomBytes, randomUUID } from 'node:crypto';
import { ObjectLockedError, type Sink, SinkError, type SinkFailureReason } from './sink.ts';

export type ProbeStep = 'write' | 'read' | 'list' | 'delete' | 'lock';

export type ProbeResult =
  | {
      ok: true;
      description: string;
      conditionalWrites: 'native' | 'emulated';
      elapsedMs: number;
      /** Immutability configured and proven: the store refused to delete a locked probe. */
      locking?: { mode: string; days: number; refusedUntil: Date };
    }
  | { ok: false; description: string; step: ProbeStep; reason: SinkFailureReason | 'other'; sentence: string };

/** Where the probe object goes; under a name the repository never uses. */
export const PROBE_PREFIX = 'holdfast-connection-test/';
/** Locked probes stay until their lock lapses; the next test removes the lapsed ones. */
export const LOCK_PROBE_PREFIX = `${PROBE_PREFIX}locked/`;
/** How long the locked probe is kept: short, since Compliance-mode locks cannot be lifted. */
export const LOCK_PROBE_MS = 60_000;

const SENTENCES: Record<SinkFailureReason | 'other', (where: string) => string> = {
  dns: (w) => `The storage host of ${w} could not be found (DNS): check the endpoint's host name.`,
  tls: (w) => `A secure (TLS) connection to ${w} failed: check https versus http and the certificate or CA setting.`,
  unreachable: (w) => `Nothing answered at ${w}: check the endpoint's address and port, and the firewall.`,
  timeout: (w) => `${w} did not answer in time: check the network path to the endpoint.`,
  auth: (w) => `${w} refused the credentials: check the access key and secret (or the account key, SAS or key file).`,
  permission: (w) =>
    `The credentials are valid but lack permission at ${w}: allow writing, reading, listing and deleting objects.`,
  bucket_missing: (w) => `The bucket or container of ${w} does not exist: create it or correct its name.`,
  throttled: (w) => `${w} is throttling requests: try again later or lower the concurrency.`,
  server: (w) => `${w} answered with a server error: the store may be down; try again later.`,
  unsupported: (w) =>
    `${w} does not support an operation Holdfast needs: see the sink's README for compatible settings.`,
  not_a_folder: (w) => `${w} is not a folder (the path is a file, or lies under one): give the path of a folder.`,
  folder_access: (w) =>
    `The appliance may not write to ${w}: check the folder's owner and permissions, and that its disk is mounted read-write.`,
  locked: (w) => `An object at ${w} is locked (Object Lock or immutability) and cannot be deleted yet.`,
  lock_not_enforced: (w) =>
    `Immutability is configured, but ${w} deleted a locked test object: enable Object Lock on the bucket (or version-level immutability on the container, or object retention on the GCS bucket).`,
  other: (w) => `Using ${w} failed: see the detail below.`,
};

/** One sentence for a failure reason (the UI shows it as the headline of a failed test). */
export function probeSentence(reason: SinkFailureReason | 'other', description: string): string {
  return (SENTENCES[reason] ?? SENTENCES.other)(description);
}

/** Runs the four steps on a fresh probe object; never throws for store failures. */
export async function probeSink(sink: Sink): Promise<ProbeResult & { detail?: string }> {
  const started = performance.now();
  const key = `${PROBE_PREFIX}${randomUUID()}`;
  const body = randomBytes(64);
  let step: ProbeStep = 'write';
  try {
    await sink.put(key, body, { ifAbsent: true, contentLength: body.length });
    step = 'read';
    const chunks: Buffer[] = [];
    for await (const chunk of await sink.get(key)) chunks.push(Buffer.from(chunk as Uint8Array));
    if (!Buffer.concat(chunks).equals(body))
      throw new Error('the probe object read back differs from what was written');
    step = 'list';
    let listed = false;
    for await (const info of sink.list(PROBE_PREFIX)) if (info.key === key) listed = true;
    if (!listed) throw new Error('the probe object was written but is missing from the listing');
    step = 'delete';
    await sink.delete(key);
    const locking = sink.immutability ? await probeLock(sink, sink.immutability) : undefined;
    if (locking) step = 'lock';
    return {
      ok: true,
      description: sink.description,
      conditionalWrites: sink.capabilities.conditionalWrites,
      elapsedMs: Math.round(performance.now() - started),
      ...(locking ? { locking } : {}),
    };
  } catch (err) {
    if (err instanceof LockProbeError) step = 'lock';
    if (step !== 'write' && step !== 'delete' && step !== 'lock') await sink.delete(key).catch(() => undefined);
    const reason = err instanceof SinkError ? (err.reason ?? 'other') : 'other';
    return {
      ok: false,
      description: sink.description,
      step,
      reason,
      sentence: probeSentence(reason, sink.description),
      detail: `${step} failed: ${(err as Error).message}`,
    };
  }
}

class LockProbeError extends SinkError {
  constructor(message: string, reason: SinkFailureReason = 'lock_not_enforced') {
    super('permanent', message, undefined, { reason });
    this.name = 'LockProbeError';
  }
}

/**
 * Writes a probe locked for a minute, checks that head reports the lock, and expects the store
 * to refuse deleting it. Probes of earlier tests whose lock has lapsed are removed first.
 */
async function probeLock(
  sink: Sink,
  policy: { mode: string; days: number },
): Promise<{ mode: string; days: number; refusedUntil: Date }> {
  for await (const old of sink.list(LOCK_PROBE_PREFIX)) {
    const info = await sink.head(old.key).catch(() => undefined);
    if (info && (!info.retainUntil || info.retainUntil.getTime() <= Date.now()))
      await sink.delete(old.key).catch(() => undefined);
  }
  const key = `${LOCK_PROBE_PREFIX}${randomUUID()}`;
  const body = randomBytes(16);
  const until = new Date(Date.now() + LOCK_PROBE_MS);
  try {
    await sink.put(key, body, { ifAbsent: true, contentLength: body.length, retainUntil: until });
  } catch (err) {
    throw new LockProbeError(`writing a locked object failed: ${(err as Error).message}`, (err as SinkError).reason);
  }
  const info = await sink.head(key);
  if (!info.retainUntil || info.retainUntil.getTime() < until.getTime() - 1000)
    throw new LockProbeError('the store does not report a lock on the object written locked');
  try {
    await sink.delete(key);
  } catch (err) {
    if (err instanceof ObjectLockedError) return { ...policy, refusedUntil: info.retainUntil };
    throw err;
  }
  throw new LockProbeError('the store deleted an object written locked');
}
