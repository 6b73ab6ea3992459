// `holdfast dr …`: appliance disaster recovery (docs/OPERATIONS.md, "Disaster recovery").
//   dr restore --location <file.json> [--master-key-file <file>]
//     On a fresh data folder: reads the configuration backup from that storage location, opens it
//     with the master key export (--master-key-file, or HOLDFAST_MASTER_KEY) or else the recovery
//     passphrase (HOLDFAST_RECOVERY_PASSPHRASE, or a prompt), and recreates the appliance.
//   dr backup
//     Writes the configuration backup into every storage location now.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { askHidden } from './cli-prompt.ts';
import { withSecretsFromEnv } from './cli-sink-options.ts';
import type { RecoveryMaterial } from './dr/sealed-backup.ts';
import { createStderrLogger } from './logging.ts';
import { sinkPlugin, sinkPlugins } from './plugins/registry.ts';
import type { Sink } from './plugins/sink.ts';

export const DR_EXIT = { ok: 0, failed: 1, usage: 2, refused: 4 } as const;

export const drUsage = `Usage: holdfast dr <command>

Commands:
  restore --location <file.json>   Recover a lost appliance into this (fresh) data folder from the
      [--master-key-file <file>]   configuration backup a storage location holds: organizations,
      [--replace-unused-key]
                                   users, tasks, schedules and locations come back, and every
                                   repository is re-attached with its catalog rebuilt.
                                   <file.json> holds the location's sink settings, e.g.
                                   {"kind": "s3", "bucket": "backups", "region": "eu-west-1"}
                                   (secrets from the environment as for "holdfast repo").
                                   Opened with the master key export (--master-key-file, or
                                   HOLDFAST_MASTER_KEY), or else the recovery passphrase
                                   (HOLDFAST_RECOVERY_PASSPHRASE, or a prompt).
                                   --replace-unused-key: replace the master key a fresh appliance
                                   generated at its first start (refused once set up).
  backup                           Write the configuration backup into every storage location now.

Exit codes: 0 done, 1 failed, 2 usage error, 4 refused (no configuration backup there, wrong
key or passphrase, the data folder is not fresh).`;

class UsageError extends Error {}

async function locationSink(file: string): Promise<Sink> {
  let settings: Record<string, unknown>;
  try {
    settings = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot read --location: ${(err as Error).message}`);
  }
  const { kind, ...rest } = settings;
  const plugin = sinkPlugin(String(kind ?? ''));
  if (!plugin) {
    throw new UsageError(`--location: "kind" must be one of ${sinkPlugins.map((p) => p.kind).join(', ')}`);
  }
  const parsed = plugin.settings.safeParse(withSecretsFromEnv(plugin, rest));
  if (!parsed.success) {
    throw new UsageError(
      `--location: ${parsed.error.issues.map((i) => `${String(i.path[0] ?? '')}: ${i.message}`).join('; ')}`,
    );
  }
  return plugin.create(parsed.data);
}

async function material(keyFile: string | undefined): Promise<RecoveryMaterial> {
  const text = keyFile ? readFileSync(keyFile, 'utf8') : process.env.HOLDFAST_MASTER_KEY;
  if (text) {
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32) throw new UsageError('the master key export must hold a 32-byte base64 key');
    return { masterKey: key };
  }
  const passphrase = process.env.HOLDFAST_RECOVERY_PASSPHRASE || (await askHidden('Recovery passphrase: '));
  if (!passphrase) throw new UsageError('give the master key export (--master-key-file) or the recovery passphrase');
  return { passphrase };
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const count = (n: number | undefined, word: string) => `${n ?? 0} ${word}${n === 1 ? '' : 's'}`;

export async function runDrCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { values } = parseArgs({
      args: rest,
      options: {
        location: { type: 'string' },
        'master-key-file': { type: 'string' },
        'replace-unused-key': { type: 'boolean', default: false },
      },
    });
    if (command === 'restore') {
      if (!values.location) throw new UsageError('name a storage location with --location <file.json>');
      const config = loadConfig();
      const [{ recoverAppliance, RecoveryError }, sink, recovery] = await Promise.all([
        import('./dr/recover.ts'),
        locationSink(values.location),
        material(values['master-key-file']),
      ]);
      try {
        const report = await recoverAppliance(config, sink, recovery, createStderrLogger('warn'), {
          replaceUnusedKey: values['replace-unused-key'],
        });
        const rows = report.rows;
        out(
          `Recovered the configuration written ${report.written.toISOString()}: ${count(rows.organizations, 'organization')}, ` +
            `${count(rows.users, 'user')}, ${count(rows.backup_tasks, 'task')}, ${count(rows.storage_locations, 'storage location')}.`,
        );
        for (const r of report.repositories) {
          out(`Re-attached the repository of ${r.organization} at ${r.location}: ${count(r.snapshots, 'snapshot')}.`);
        }
        for (const u of report.unreadable)
          process.stderr.write(`holdfast: not re-attached: ${u.organization} at ${u.location}: ${u.reason}\n`);
        return report.unreadable.length ? DR_EXIT.failed : DR_EXIT.ok;
      } catch (err) {
        if (err instanceof RecoveryError) {
          process.stderr.write(`holdfast: ${err.message}\n`);
          return DR_EXIT.refused;
        }
        throw err;
      } finally {
        await sink.close();
      }
    }
    if (command === 'backup') {
      const [{ openKernel }, { writeConfigBackup }] = await Promise.all([
        import('./appliance.ts'),
        import('./dr/config-backup.ts'),
      ]);
      const config = loadConfig();
      const kernel = await openKernel(config, createStderrLogger('warn'));
      try {
        const report = await writeConfigBackup({
          em: kernel.orm.em.fork(),
          credentials: kernel.credentials,
          masterKey: kernel.masterKey,
          storageDir: config.storageDir,
          now: new Date(),
        });
        for (const name of report.written) out(`Configuration backup written to ${name}.`);
        for (const f of report.failed) process.stderr.write(`holdfast: not written to ${f.location}: ${f.reason}\n`);
        return report.failed.length ? DR_EXIT.failed : DR_EXIT.ok;
      } finally {
        await kernel.close();
      }
    }
    throw new UsageError(command ? `unknown command "dr ${command}"` : 'name a command');
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`holdfast: ${(err as Error).message}\n\n${drUsage}\n`);
      return DR_EXIT.usage;
    }
    throw err;
  }
}
