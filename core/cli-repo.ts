// `holdfast repo …`: operating a backup repository directly, for operators, tests and benchmarks.
// The sink comes from --sink <kind> plus that sink's settings as options (e.g. --path for local),
// or from --sink-config <file.json> ({"kind": "local", "path": "/backups/r1"}); the passphrase from
// HOLDFAST_REPO_PASSPHRASE, or a prompt on a terminal.

import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isDamage } from '../storage/damaged-items.ts';
import { backupDirectory, restoreSnapshot } from '../storage/filesystem.ts';
import { RepositoryLock, RepositoryLockedError, removeLocks, type StaleLock, withLock } from '../storage/locks.ts';
import { pruneRepository } from '../storage/prune.ts';
import { displayName } from '../storage/raw-names.ts';
import { rebuildIndex } from '../storage/rebuild-index.ts';
import { repairSnapshots } from '../storage/repair.ts';
import { repairPacks } from '../storage/repair-packs.ts';
import { type DamagedSnapshot, MARKER_KEY, Repository, RepositoryError } from '../storage/repository.ts';
import { applyRetention, parsePeriod, type RetentionPolicy } from '../storage/retention.ts';
import { SnapshotReader } from '../storage/snapshot-reader.ts';
import { type VerifyReport, verifyRepository } from '../storage/verify.ts';
import { askHidden } from './cli-prompt.ts';
import { optionName, settingsFromOptions, sinkCliOptions, withSecretsFromEnv } from './cli-sink-options.ts';
import { sinkPlugin, sinkPlugins } from './plugins/registry.ts';
import { ObjectNotFoundError, type Sink, SinkError, type SinkPlugin } from './plugins/sink.ts';
import { probeSink } from './plugins/sink-probe.ts';
import { immutableSink } from './storage-locations/immutable-sink.ts';

export const REPO_EXIT = { ok: 0, failed: 1, usage: 2, repository: 4, problems: 5 } as const;

export const repoUsage = `Usage: holdfast repo <command> --sink <kind> [sink options] [options]

Commands:
  probe                        Test the storage: write, read, list and delete a small object;
                               a failure is named in one sentence (DNS, TLS, credentials, bucket, …).
  init                         Create a repository (asks for a new passphrase).
  attach                       Connect this appliance to an existing repository (disaster
                               recovery): checks the passphrase and builds the catalog from it.
  reindex                      Rebuild this appliance's catalog of the repository from the repository.
  backup <folder>              Back up a folder; prints the new snapshot id.
      [--task <name>] [--entity <name>]   (default: "cli" and the folder's absolute path)
  snapshots [--json]           List snapshots.
  ls <snapshot>                List a snapshot's items.
  restore <snapshot> <folder>  Restore a snapshot into an empty or new folder. Items the repository
                               cannot read are listed and skipped (exit 1); the rest is restored.
      [--resume]               Continue an interrupted restore into the same folder, keeping the
                               files already complete (size and content checked).
  verify [--read-data[=<percent>]]   Check structure; read back all (or a share of) data. Also lists
                               orphan packs (a crashed backup's) and stale locks.
  rebuild-index                Rewrite the index from the packs' own trailers (after an index file
                               was damaged or deleted).
  unlock [--remove-all]        Remove stale locks (their process is gone or they expired); with
                               --remove-all every lock (only when nothing else uses the repository).
  prune [--grace-hours <n>]    Remove data no snapshot uses (packs newer than both the grace, default
                               24 h, and the oldest live lock stay: a running backup may own them).
      [--keep-within <30d|6m|1y> | --keep-last <n>]   First forget snapshots outside the retention
                               (per task and entity; the newest of each is always kept by --keep-within),
                               and remove forgotten snapshots from this appliance's catalog.
  repair snapshots [--forget] [--read-data]   Name snapshots that cannot be read (removed with
                               --forget); write snapshots with damaged trees or blobs again without
                               the damaged items, tagged "repaired" (the originals removed with
                               --forget). --read-data also reads every content blob.
  repair packs <pack id>…      Store the blobs of damaged packs that still read in new packs and remove
                               the packs (then "repair snapshots --forget" drops what used the rest).
  key list | key add | key remove <id>   Manage passphrases.

Sink options (each sink's settings as options; see docs/OPERATIONS.md), or --sink-config <file.json>:
  --sink local --path <folder>
  --sink s3 --bucket <name> [--endpoint <url>] [--region <r>] [--prefix <folder>] [--force-path-style]
            [--access-key-id <id>] [--ca-file <pem>] [--conditional-writes auto|native|emulated]
            [--server-side-encryption AES256|aws:kms] [--sse-kms-key-id <id>] [--part-size-mib <n>]
            [--concurrency <n>] [--object-lock-mode GOVERNANCE|COMPLIANCE --immutability-days <n>]
  --sink azure --container <name> (--account-name <a> [--endpoint <url>] | connection string)
            [--prefix <folder>] [--block-size-mib <n>] [--immutability-mode Unlocked|Locked --immutability-days <n>]
  --sink gcs --bucket <name> [--key-file <json>] [--project-id <id>] [--prefix <folder>]
            [--api-endpoint <url>] [--chunk-size-mib <n>] [--retention-mode Unlocked|Locked --immutability-days <n>]
With a lock mode and a period, packs, index files and snapshots are written locked (Object Lock,
immutability policy, object retention) and prune leaves locked objects until they lapse.
Secrets come from the environment: HOLDFAST_SINK_SECRET_ACCESS_KEY (s3), HOLDFAST_SINK_ACCOUNT_KEY,
HOLDFAST_SINK_SAS_TOKEN or HOLDFAST_SINK_CONNECTION_STRING (azure), HOLDFAST_SINK_CREDENTIALS_JSON (gcs).
Passphrase: HOLDFAST_REPO_PASSPHRASE (HOLDFAST_REPO_NEW_PASSPHRASE for "key add"), or a prompt.
Exit codes: 0 done, 1 failed (or a restore left items out, or prune kept all data because a
snapshot cannot be read), 2 usage error, 4 repository error (not a repository, wrong passphrase,
already exists, a file instead of a folder, locked), 5 verify or rebuild-index found problems
(or repair left an unreadable snapshot).`;

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A snapshot that cannot be read is skipped, never fatal: named on stderr with the way out. */
function warnDamaged(d: DamagedSnapshot): void {
  process.stderr.write(
    `warning: snapshot ${d.id} is unreadable and was skipped (${d.reason}); see "holdfast repo repair snapshots"\n`,
  );
}

async function ask(prompt: string): Promise<string> {
  if (!process.stdin.isTTY)
    throw new UsageError('set HOLDFAST_REPO_PASSPHRASE (no terminal to ask for the passphrase)');
  return askHidden(prompt);
}

async function passphrase(envName = 'HOLDFAST_REPO_PASSPHRASE', confirm = false): Promise<string> {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const first = await ask('Repository passphrase: ');
  if (confirm && (await ask('Repeat the passphrase: ')) !== first) throw new UsageError('the passphrases do not match');
  if (!first) throw new UsageError('the passphrase must not be empty');
  return first;
}

const sinkOptions = sinkCliOptions(sinkPlugins as readonly SinkPlugin<unknown>[]);
const sinkOptionNames: ReadonlySet<string> = new Set(Object.keys(sinkOptions));

async function openSink(values: Record<string, string | boolean | undefined>): Promise<Sink> {
  let settings: Record<string, unknown>;
  let kind: string;
  if (typeof values['sink-config'] === 'string') {
    try {
      settings = JSON.parse(readFileSync(values['sink-config'], 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`cannot read --sink-config: ${(err as Error).message}`);
    }
    kind = String(settings.kind ?? '');
  } else {
    kind = String(values.sink ?? '');
    settings = {};
  }
  if (!kind) throw new UsageError('name the storage with --sink <kind> (or --sink-config <file>)');
  const plugin = sinkPlugin(kind);
  if (!plugin) throw new UsageError(`unknown sink "${kind}"; available: ${sinkPlugins.map((p) => p.kind).join(', ')}`);
  if (typeof values['sink-config'] === 'string') {
    const { kind: _kind, ...rest } = settings;
    settings = withSecretsFromEnv(plugin, rest);
  } else {
    try {
      settings = settingsFromOptions(plugin, values, sinkOptionNames);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const parsed = plugin.settings.safeParse(settings);
  if (!parsed.success) {
    throw new UsageError(
      parsed.error.issues.map((i) => `--${optionName(String(i.path[0] ?? 'sink'))}: ${i.message}`).join('\n'),
    );
  }
  try {
    // A location with immutability: what the CLI writes is locked as the appliance's writes are.
    return immutableSink(await plugin.create(parsed.data));
  } catch (err) {
    throw new UsageError(`cannot open the ${kind} sink: ${(err as Error).message}`);
  }
}

const options = {
  ...sinkOptions,
  sink: { type: 'string' },
  'sink-config': { type: 'string' },
  task: { type: 'string' },
  entity: { type: 'string' },
  json: { type: 'boolean' },
  'read-data': { type: 'string' },
  'grace-hours': { type: 'string' },
  'keep-within': { type: 'string' },
  'keep-last': { type: 'string' },
  'remove-all': { type: 'boolean' },
  resume: { type: 'boolean' },
  forget: { type: 'boolean' },
} as const;

export async function runRepoCommand(argv: string[]): Promise<number> {
  // `--read-data` alone means 100%.
  const args = argv.map((a) => (a === '--read-data' ? '--read-data=100' : a));
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`holdfast repo: ${(err as Error).message}\n`);
    return REPO_EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  try {
    if (!command || command === 'help') {
      out(repoUsage);
      return REPO_EXIT.ok;
    }
    const sink = await openSink(values);
    try {
      return await dispatch(command, rest, values, sink);
    } catch (err) {
      // Commands that never open the repository (unlock) meet a file instead of a folder here.
      if (err instanceof SinkError && err.reason === 'not_a_folder')
        throw new RepositoryError(
          'not_a_repository',
          `${sink.description} is a file, not a folder: a repository is a folder`,
        );
      throw err;
    } finally {
      await sink.close();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`holdfast repo: ${err.message}\n`);
      return REPO_EXIT.usage;
    }
    if (err instanceof RepositoryError || err instanceof RepositoryLockedError) {
      process.stderr.write(`holdfast repo: ${err.message}\n`);
      return REPO_EXIT.repository;
    }
    process.stderr.write(`holdfast repo: ${(err as Error).message}\n`);
    return REPO_EXIT.failed;
  }
}

async function dispatch(
  command: string,
  rest: string[],
  values: Record<string, string | boolean | undefined>,
  sink: Sink,
): Promise<number> {
  const need = (n: number, what: string) => {
    if (rest.length !== n) throw new UsageError(`${command} needs ${what}`);
  };
  switch (command) {
    case 'probe': {
      need(0, 'no arguments');
      const result = await probeSink(sink);
      if (result.ok) {
        out(
          `${sink.description}: write, read, list and delete work (${result.elapsedMs} ms; conditional writes ${result.conditionalWrites}).`,
        );
        return REPO_EXIT.ok;
      }
      out(result.sentence);
      process.stderr.write(`${result.detail ?? ''}\n`);
      return REPO_EXIT.failed;
    }
    case 'init': {
      need(0, 'no arguments');
      const repo = await Repository.init(sink, { passphrase: await passphrase('HOLDFAST_REPO_PASSPHRASE', true) });
      out(`Created repository ${repo.id} in ${sink.description}.`);
      out('Keep the passphrase safe: without it the backups cannot be read by anyone.');
      return REPO_EXIT.ok;
    }
    case 'backup': {
      need(1, 'the folder to back up');
      const folder = rest[0] as string;
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const task = String(values.task ?? 'cli');
      const entity = String(values.entity ?? (await import('node:path')).resolve(folder));
      return withLock(
        sink,
        'shared',
        { purpose: `backup of ${entity}` },
        async () => {
          const previous = (await repo.listSnapshots({ onDamaged: warnDamaged }))
            .filter((s) => s.manifest.task === task && s.manifest.entity === entity)
            .at(-1);
          let result: Awaited<ReturnType<typeof backupDirectory>>;
          let unread = 0;
          const onWarning = (message: string) => {
            unread++;
            process.stderr.write(`warning: ${message}\n`);
          };
          try {
            result = await backupDirectory(repo, folder, { task, entity, parent: previous?.id, onWarning });
          } catch (err) {
            // A parent whose tree is damaged cannot lend unchanged items: read everything instead.
            if (!previous || !isDamage(err)) throw err;
            process.stderr.write(
              `warning: the previous snapshot ${previous.id} cannot be read (${err.message}); backing up the whole folder\n`,
            );
            unread = 0;
            result = await backupDirectory(repo, folder, { task, entity, onWarning });
          }
          const notRead = unread ? `; extended attributes of ${unread} items not read (see above)` : '';
          process.stderr.write(
            `${result.items} items, ${result.bytes} bytes (${result.carried} unchanged), uploaded ${repo.stats.bytesUploaded} bytes${notRead}\n`,
          );
          out(result.id);
          return REPO_EXIT.ok;
        },
        repo,
      );
    }
    case 'attach':
    case 'reindex': {
      need(0, 'no arguments');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      // The catalog lives in the appliance database (HOLDFAST_* settings choose which).
      const [{ loadConfig }, { openKernel }, { createStderrLogger }, { reindexRepository }, { taskItemFields }] =
        await Promise.all([
          import('../config/load.ts'),
          import('./appliance.ts'),
          import('./logging.ts'),
          import('./catalog/indexer.ts'),
          import('./tasks/item-fields.ts'),
        ]);
      const kernel = await openKernel(loadConfig(), createStderrLogger('warn'));
      try {
        const em = kernel.orm.em.fork();
        // Each task's service says which metadata holds its items' name, path, author and date.
        const report = await withLock(sink, 'shared', { purpose: command }, () =>
          reindexRepository(em, repo, sink.description, taskItemFields(em.fork()), { onDamaged: warnDamaged }),
        );
        out(
          `${command === 'attach' ? 'Attached' : 'Reindexed'} repository ${repo.id}: ${report.snapshots} snapshots, ` +
            `${report.items} items, ${report.versions} versions in the catalog.`,
        );
      } finally {
        await kernel.close();
      }
      return REPO_EXIT.ok;
    }
    case 'snapshots': {
      need(0, 'no arguments');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const list = await repo.listSnapshots({ onDamaged: warnDamaged });
      if (values.json) {
        out(
          JSON.stringify(
            list.map(({ id, manifest }) => ({ id, ...manifest })),
            null,
            2,
          ),
        );
      } else if (list.length === 0) {
        out('No snapshots.');
      } else {
        for (const { id, manifest } of list) {
          out(
            `${id.slice(0, 12)}  ${manifest.time}  ${manifest.task}  ${manifest.entity}  ${manifest.stats.items} items  ${manifest.stats.bytes} bytes`,
          );
        }
      }
      return REPO_EXIT.ok;
    }
    case 'ls': {
      need(1, 'a snapshot id');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const reader = await SnapshotReader.open(repo, await resolveSnapshot(repo, rest[0] as string));
      for await (const item of reader.items())
        out(`${item.kind.padEnd(7)} ${String(item.size).padStart(12)}  ${displayName(item.key)}`);
      return REPO_EXIT.ok;
    }
    case 'restore': {
      need(2, 'a snapshot id and a target folder');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const id = await resolveSnapshot(repo, rest[0] as string);
      return withLock(sink, 'shared', { purpose: `restore of ${id}` }, async () => {
        let skipped = 0;
        let refused = 0;
        const result = await restoreSnapshot(repo, id, rest[1] as string, {
          resume: values.resume === true,
          onSkipped: (message) => {
            skipped++;
            process.stderr.write(`${message}\n`);
          },
          onXattrRefused: (message) => {
            refused++;
            process.stderr.write(`warning: ${message}\n`);
          },
        });
        for (const f of result.failed) process.stderr.write(`failed: ${displayName(f.key)}: ${f.reason}\n`);
        const kept = values.resume ? `; ${result.kept} were already complete` : '';
        const notRestored =
          (skipped ? `; ${skipped} not restored (see above)` : '') +
          (refused ? `; ${refused} extended attributes not restored (see above)` : '');
        if (result.failed.length === 0) {
          out(`Restored ${result.items} items into ${rest[1]}${kept}${notRestored}.`);
          return REPO_EXIT.ok;
        }
        out(
          `Restored ${result.items} items into ${rest[1]}${kept}${notRestored}; ${result.failed.length} items could not be restored ` +
            '(listed above: the repository holds them damaged).',
        );
        return REPO_EXIT.failed;
      });
    }
    case 'verify': {
      need(0, 'no arguments');
      const percent = values['read-data'] === undefined ? 0 : Number(values['read-data']);
      if (!Number.isFinite(percent) || percent < 0 || percent > 100)
        throw new UsageError('--read-data takes a percentage from 0 to 100');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      // Taken by hand (not withLock) to name the stale locks its acquisition removed.
      const lock = await RepositoryLock.acquire(sink, 'shared', { purpose: 'verify' });
      let report: VerifyReport;
      try {
        report = await verifyRepository(repo, {
          readDataPercent: percent,
          onProgress: (m) => process.stderr.write(`${m}\n`),
        });
      } finally {
        await lock.release();
      }
      for (const p of report.problems) out(`PROBLEM ${p.object}: ${p.message}`);
      for (const p of report.orphanPacks)
        out(
          `ORPHAN pack ${p.id}: ${p.size} bytes, named by no index and used by no snapshot (the next backup reuses its blobs; prune removes it)`,
        );
      for (const h of report.damagedTarHeaders)
        out(
          `DAMAGED TAR HEADER pack ${h.pack} at byte ${h.offset}: every blob in it authenticates (blobs are read by offset, not through tar); nothing is lost`,
        );
      for (const l of lock.removedStale) out(`STALE LOCK ${describeStale(l)}: removed`);
      for (const l of report.staleLocks) out(`STALE LOCK ${describeStale(l)} (holdfast repo unlock removes it)`);
      out(
        `${report.snapshots} snapshots, ${report.packs} packs, ${report.packsRead} packs read, ${report.blobsChecked} blobs checked: ` +
          (report.problems.length ? `${report.problems.length} problem(s)` : 'no problems'),
      );
      return report.problems.length ? REPO_EXIT.problems : REPO_EXIT.ok;
    }
    case 'prune': {
      need(0, 'no arguments');
      const hours = values['grace-hours'] === undefined ? 24 : Number(values['grace-hours']);
      if (!Number.isFinite(hours) || hours < 0) throw new UsageError('--grace-hours takes a number of hours ≥ 0');
      const policy = retentionFrom(values);
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const report = await withLock(sink, 'exclusive', { purpose: 'prune' }, async () => {
        const decision = applyRetention(await repo.listSnapshots({ onDamaged: warnDamaged }), policy);
        const locked: Date[] = [];
        for (const id of decision.forget) {
          const until = await repo.forgetSnapshot(id);
          if (until) locked.push(until);
        }
        const forgotten = decision.forget.length - locked.length;
        if (forgotten) out(`Forgot ${forgotten} snapshot(s) outside the retention.`);
        if (locked.length) {
          const last = locked.reduce((a, b) => (a > b ? a : b)).toISOString();
          out(
            `${locked.length} snapshot(s) outside the retention are locked until ${last} at the latest: forgotten by the first prune after their lock lapses.`,
          );
        }
        // The catalog must not name a forgotten snapshot (nor one another appliance forgot).
        const catalogued = await updateCatalog(repo);
        if (catalogued) out(`Catalog: removed ${catalogued} snapshot(s) no longer in the repository.`);
        return pruneRepository(repo, { graceMs: hours * 3_600_000, onProgress: (m) => process.stderr.write(`${m}\n`) });
      });
      if (report.damagedSnapshots.length) {
        out(
          `Nothing deleted, kept all data: ${report.damagedSnapshots.length} snapshot(s) cannot be read, so what they ` +
            'use is unknown. Run "holdfast repo repair snapshots" (with --forget to remove them), then prune again.',
        );
        return REPO_EXIT.failed;
      }
      out(
        `${report.packsDeleted} packs deleted, ${report.packsRepacked} repacked, ${report.bytesFreed} bytes freed; ` +
          `${report.keptForGrace} packs kept inside the grace period.`,
      );
      if (report.lockedPacks || report.lockedIndexFiles)
        out(
          `Locked (Object Lock or immutability), left in place: ${report.lockedPacks} pack(s) of ${report.lockedBytes} bytes ` +
            `and ${report.lockedIndexFiles} index file(s); reclaimed by the first prune after ${report.reclaimableAfter}.`,
        );
      return REPO_EXIT.ok;
    }
    case 'rebuild-index': {
      need(0, 'no arguments');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const report = await withLock(sink, 'exclusive', { purpose: 'rebuild-index' }, () =>
        rebuildIndex(repo, { onProgress: (m) => process.stderr.write(`${m}\n`) }),
      );
      for (const p of report.problems) out(`PROBLEM ${p.object}: ${p.message}`);
      out(
        `Rebuilt the index from ${report.packs} packs: ${report.blobs} blobs in ${report.indexFilesWritten} index file(s); ` +
          `removed ${report.indexFilesRemoved} old index file(s).`,
      );
      return report.problems.length ? REPO_EXIT.problems : REPO_EXIT.ok;
    }
    case 'unlock': {
      need(0, 'no arguments');
      // Locks are not encrypted: no passphrase needed, but the location must hold a repository.
      await sink.head(MARKER_KEY).catch((err: unknown) => {
        if (err instanceof ObjectNotFoundError)
          throw new RepositoryError('not_a_repository', `${sink.description} holds no Holdfast repository`);
        throw err;
      });
      const all = values['remove-all'] === true;
      const removed = await removeLocks(sink, { all });
      for (const l of removed) out(`Removed ${describeStale(l)}.`);
      out(all ? `Removed ${removed.length} lock(s).` : `Removed ${removed.length} stale lock(s).`);
      return REPO_EXIT.ok;
    }
    case 'repair': {
      if (rest[0] === 'packs') return repairPacksCommand(rest.slice(1), sink);
      if (rest[0] !== 'snapshots' || rest.length !== 1) throw new UsageError('repair takes: snapshots | packs <id>…');
      const readData = values['read-data'];
      if (readData !== undefined && readData !== '100')
        throw new UsageError('repair snapshots takes --read-data without a percentage');
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      const forget = values.forget === true;
      const report = await withLock(
        sink,
        'exclusive',
        { purpose: 'repair snapshots' },
        () =>
          repairSnapshots(repo, {
            forget,
            readData: readData !== undefined,
            onProgress: (m) => process.stderr.write(`${m}\n`),
          }),
        repo,
      );
      for (const u of report.unreadable) {
        out(`snapshot ${u.id}: unreadable (${u.reason}); ${u.removed ? 'removed' : 'kept (remove it with --forget)'}`);
      }
      for (const r of report.rewritten) {
        out(
          `snapshot ${r.id}: ${r.droppedItems} damaged item(s) dropped; saved as ${r.newId}` +
            (r.originalRemoved ? ', original removed' : ' (the original stays until --forget)'),
        );
        for (const d of r.dropped) out(`  dropped ${d.key}: ${d.reason}`);
      }
      const removed = report.unreadable.filter((u) => u.removed).length;
      out(
        `${report.checked} snapshot(s) checked: ${report.intact} intact, ${report.rewritten.length} rewritten, ` +
          `${report.unreadable.length} unreadable (${removed} removed).`,
      );
      if (removed || report.rewritten.some((r) => r.originalRemoved)) {
        const catalogued = await updateCatalog(repo);
        if (catalogued) out(`Catalog: removed ${catalogued} snapshot(s) no longer in the repository.`);
      }
      if (report.rewritten.length) out('Run "holdfast repo reindex" to show the repaired snapshots in the catalog.');
      return removed < report.unreadable.length ? REPO_EXIT.problems : REPO_EXIT.ok;
    }
    case 'key': {
      const [sub, arg] = rest;
      const repo = await Repository.open(sink, { passphrase: await passphrase() });
      if (sub === 'list') {
        for (const id of await repo.listKeys()) out(id);
        return REPO_EXIT.ok;
      }
      if (sub === 'add') {
        const id = await repo.addKey({ passphrase: await passphrase('HOLDFAST_REPO_NEW_PASSPHRASE', true) });
        out(`Added key ${id}.`);
        return REPO_EXIT.ok;
      }
      if (sub === 'remove' && arg) {
        await withLock(sink, 'exclusive', { purpose: 'key removal' }, () => repo.removeKey(arg));
        out(`Removed key ${arg}.`);
        return REPO_EXIT.ok;
      }
      throw new UsageError('key takes: list | add | remove <id>');
    }
    default:
      throw new UsageError(`unknown repo command "${command}"\n\n${repoUsage}`);
  }
}

/** `repair packs <id>…`: salvages what still reads from damaged packs and removes them. */
async function repairPacksCommand(ids: string[], sink: Sink): Promise<number> {
  if (!ids.length || ids.some((id) => !/^[0-9a-f]{64}$/.test(id))) throw new UsageError('repair packs needs pack ids');
  const repo = await Repository.open(sink, { passphrase: await passphrase() });
  const report = await withLock(
    sink,
    'exclusive',
    { purpose: 'repair packs' },
    () => repairPacks(repo, ids, { onProgress: (m) => process.stderr.write(`${m}\n`) }),
    repo,
  );
  for (const p of report.packs) {
    out(`pack ${p.id}: ${p.salvaged} blob(s) stored again, ${p.lost.length} lost; removed`);
    for (const l of p.lost) out(`  lost blob ${l.id}: ${l.reason}`);
  }
  for (const id of report.absent)
    out(`pack ${id}: not in the repository and named by no index file; nothing to repair`);
  if (report.packs.some((p) => p.lost.length))
    out('Run "holdfast repo repair snapshots --forget" to drop the items that used the lost blobs.');
  return REPO_EXIT.ok;
}

function describeStale(l: StaleLock): string {
  const r = l.record;
  return `${l.key}: ${r.kind}, ${r.purpose} on ${r.host} (pid ${r.pid}), ${l.reason}`;
}

/**
 * Removes snapshots the repository no longer has from this appliance's catalog, when the
 * appliance has a database and the repository is attached to it; returns how many.
 */
async function updateCatalog(repo: Repository): Promise<number> {
  const { loadConfig } = await import('../config/load.ts');
  const config = loadConfig();
  if (!existsSync(config.databasePath)) return 0; // no appliance here: nothing is catalogued
  const [{ openKernel }, { createStderrLogger }, { forgetMissingSnapshots }, { CatalogRepository }] = await Promise.all(
    [import('./appliance.ts'), import('./logging.ts'), import('./catalog/forget.ts'), import('./catalog/entities.ts')],
  );
  const kernel = await openKernel(config, createStderrLogger('warn'));
  try {
    const em = kernel.orm.em.fork();
    if (!(await em.count(CatalogRepository, { id: repo.id }))) return 0;
    // Only snapshots gone from the repository: a damaged one is still there (repair names it).
    const ids = new Set(await repo.snapshotIds());
    return await forgetMissingSnapshots(em, repo.id, ids);
  } finally {
    await kernel.close();
  }
}

function retentionFrom(values: Record<string, string | boolean | undefined>): RetentionPolicy {
  const within = values['keep-within'];
  const last = values['keep-last'];
  if (within !== undefined && last !== undefined) throw new UsageError('give --keep-within or --keep-last, not both');
  if (typeof within === 'string') {
    try {
      return parsePeriod(within);
    } catch (err) {
      throw new UsageError(`--keep-within: ${(err as Error).message}`);
    }
  }
  if (typeof last === 'string') {
    if (!/^\d+$/.test(last) || Number(last) < 1) throw new UsageError('--keep-last takes a whole number ≥ 1');
    return { kind: 'last', count: Number(last) };
  }
  return { kind: 'all' };
}

/** Accepts a full snapshot id or a unique prefix of at least 6 characters. */
async function resolveSnapshot(repo: Repository, given: string): Promise<string> {
  if (/^[0-9a-f]{64}$/.test(given)) return given;
  if (!/^[0-9a-f]{6,63}$/.test(given)) throw new UsageError(`"${given}" is not a snapshot id`);
  const matches = (await repo.snapshotIds()).filter((id) => id.startsWith(given));
  if (matches.length !== 1)
    throw new RepositoryError(
      'not_a_repository',
      `${matches.length ? 'several snapshots match' : 'no snapshot matches'} ${given}`,
    );
  return matches[0] as string;
}
