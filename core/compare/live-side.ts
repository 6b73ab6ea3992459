// The live account as a compare's right side (seed 6.1 "the production database", 6.2 "metadata
// from another organization, production or sandbox"): the task's service is asked now which
// entities it has (discovery), and each entity compared is read through the plugin's own backup
// run — a full read, no state, no parent — into a scratch repository beside the result. The
// compare then walks that snapshot like any other, so a live side and a backup taken at the same
// moment hold the same items and compare the same. Streamed: memory does not grow with the
// account; the scratch repository is deleted when the compare ends (and by maintenance after a
// crash, core/compare/expiry.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { withLock } from '../../storage/locks.ts';
import { Repository } from '../../storage/repository.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../storage/snapshot-writer.ts';
import { JobNotApplicableError, type JobRun } from '../jobs/handler.ts';
import { sinkPlugin } from '../plugins/registry.ts';
import type { BackupItemWriter, EntityRef, ServiceConnection, ServicePlugin } from '../plugins/service.ts';
import type { Sink } from '../plugins/sink.ts';
import { connectTask } from '../tasks/connection.ts';
import type { IBackupTask } from '../tasks/entities.ts';

export interface LiveSide {
  /** When the account was read (discovery), ISO 8601. */
  readAt: string;
  /** The entities the account lists now, by external id (unavailable ones left out). */
  listed: Map<string, EntityRef>;
  /** Reads one entity now into a scratch snapshot and opens it. */
  read(entity: EntityRef): Promise<SnapshotReader>;
  close(): Promise<void>;
}

const INCOMPLETE = 'The live account could not be read whole, so the compare stopped: ';

/** A backup run's stop reason, without what the next backup run would do (a compare has none). */
function forCompare(reason: string): string {
  const cut = reason.replace(/[\s:;,]*the next run continues[^.]*\.?$/i, '').trim();
  return /[.!?]$/.test(cut) ? cut : `${cut}.`;
}

/** What the user can do about a stopped read. */
function nextStep(plugin: ServicePlugin, task: IBackupTask): string {
  return plugin.apiUsageLimit && task.apiUsageLimitPercent !== null && task.apiUsageLimitPercent !== undefined
    ? `Raise the task's API usage limit (now ${task.apiUsageLimitPercent} %) or compare fewer objects.`
    : 'Compare fewer objects, or again later.';
}

/** A writer for a run without a previous snapshot: nothing to carry over. */
function scratchWriter(writer: SnapshotWriter): BackupItemWriter {
  return {
    hasParent: false,
    add: async (item, content) => {
      await writer.add(item, content);
    },
    carryOver: async (key) => {
      throw new Error(`a live read has no previous snapshot to carry ${JSON.stringify(key)} over from`);
    },
    delete: (key) => writer.delete(key),
    previous: async () => undefined,
    previousItems: async function* () {},
    addFromPrevious: async (_item, from) => {
      throw new Error(`a live read has no previous snapshot holding ${JSON.stringify(from)}`);
    },
  };
}

export async function openLiveSide(
  run: JobRun,
  task: IBackupTask,
  plugin: ServicePlugin,
  folder: string,
  chosen: ReadonlySet<string> | undefined,
): Promise<LiveSide> {
  const { ctx, em, signal, progress, log } = run;
  if (task.connectionState === 'disconnected') {
    throw new JobNotApplicableError(
      `${task.name} is disconnected: authenticate it again to compare with its live account.`,
    );
  }
  const local = sinkPlugin('local');
  if (!local) throw new Error('the local sink plugin is missing');
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true, mode: 0o700 });
  let sink: Sink | undefined;
  let repo: Repository | undefined;
  let connection: ServiceConnection | undefined;
  const close = async () => {
    await connection?.close?.();
    repo?.close();
    await sink?.close();
    await rm(folder, { recursive: true, force: true });
  };
  try {
    sink = await local.create({ path: folder });
    // A throwaway key: the scratch copy is read by this job only and deleted with it.
    repo = await Repository.init(sink, { passphrase: randomBytes(32).toString('base64url'), derivedKey: true });
    progress.step = `connecting to ${task.name}`.slice(0, 200);
    connection = await connectTask(em, task, plugin, ctx.credentials, signal, log, ctx.now());
    const readAt = ctx.now().toISOString();
    progress.step = `listing what ${task.name} holds now`.slice(0, 200);
    const listed = new Map<string, EntityRef>();
    for await (const e of connection.discover(signal)) {
      if (e.unavailable) continue;
      if (chosen && !chosen.has(e.externalId)) continue;
      listed.set(e.externalId, { externalId: e.externalId, name: e.name, kind: e.kind });
    }
    const scratch = { repo, sink, connection };
    return {
      readAt,
      listed,
      async read(entity) {
        const { repo: r, sink: s, connection: c } = scratch;
        return withLock(
          s,
          'shared',
          { purpose: 'live side of a compare' },
          async () => {
            const writer = new SnapshotWriter(r, {
              task: task.id,
              entity: entity.externalId,
              mode: plugin.snapshots.mode,
              ...(plugin.snapshots.layered ? { layered: true } : {}),
            });
            let outcome: Awaited<ReturnType<ServiceConnection['backup']>>;
            try {
              outcome = await c.backup({
                entity,
                state: undefined,
                writer: scratchWriter(writer),
                signal,
                step: (text) => {
                  progress.step = `${entity.name} (live): ${text}`.slice(0, 200);
                },
                apiUsageLimitPercent: task.apiUsageLimitPercent ?? null,
                log,
              });
              signal.throwIfAborted();
            } catch (err) {
              await writer.abort();
              throw err;
            }
            // A live side read in part would show the rest as deleted: the compare fails instead.
            const stopped = outcome.partialReason?.trim();
            if (stopped) {
              await writer.abort();
              throw new Error(
                `${INCOMPLETE}reading ${entity.name} from ${task.name} stopped early. ${forCompare(stopped)} ${nextStep(plugin, task)}`,
              );
            }
            const failed = outcome.failedItems ?? [];
            if (failed.length) {
              await writer.abort();
              throw new Error(
                `${INCOMPLETE}${failed.length} item(s) of ${entity.name} could not be read from ${task.name}: ${failed[0]?.reason}`,
              );
            }
            const committed = await writer.commit();
            return SnapshotReader.open(r, committed.id);
          },
          r,
        );
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
