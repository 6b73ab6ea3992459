// The `holdfast` command line: headless administration of an appliance's data folder.
// It uses the same configuration (HOLDFAST_* variables, HOLDFAST_CONFIG file) as the server.
// Heavy modules (the ORM, OpenPGP) are imported by the command that needs them.
import { loadConfig } from '../config/load.ts';
import { configReferenceMarkdown } from '../config/reference.ts';
import { exitWithStartupError } from './startup-errors.ts';

export const EXIT_USAGE = 2;

const usage = `Usage: holdfast <command> [options]

Commands:
  migrate                          Apply pending database migrations.
  admin create --email <address>   Create the root organization and first administrator
      [--organization <name>]      (first-run setup, without a browser). The password is
      [--public-url <url>]         read from standard input, or prompted for on a terminal.
                                   --public-url: where users reach the appliance (links in
                                   mail), unless HOLDFAST_PUBLIC_URL is set.
  admin recover --email <address>  Locked out: set a new password (stdin), turn off the IP
      [--reset-two-factor]         restrictions of the user's organization, clear the
      [--clear-throttles]          account's sign-in throttle. --reset-two-factor also turns
                                   off its two-factor; --clear-throttles also clears its
                                   two-factor code counter and every address's counter.
  config check                     Validate the configuration and print where data lives.
  config reference                 Print the configuration reference (Markdown).
  migration create [name]          Developers: write a migration for entity changes.
  repo <command> …                 Operate a backup repository (see: holdfast repo help).
  dr restore --location <file>     Recover a lost appliance from a storage location's
                                   configuration backup (see: holdfast dr help).
  dr backup                        Write the configuration backup into every location now.
  db migrate-to-postgres --from <holdfast.sqlite> --to <postgres://…> [--force]
                                   Copy a stopped appliance's SQLite database into PostgreSQL,
                                   verified by row counts and checksums (see: holdfast db help).

Settings come from HOLDFAST_* environment variables and the HOLDFAST_CONFIG file.
Exit codes: 0 done, 1 failed, 2 usage error, 3 setup already completed, 78 bad configuration.`;

function fail(message: string, code: number): never {
  process.stderr.write(`holdfast: ${message}\n`);
  process.exit(code);
}

async function configCheck(): Promise<void> {
  const config = loadConfig();
  // The plugins' own settings (and unknown config file keys) are checked once they are loaded.
  const { configureServicePlugins, loadExternalPlugins } = await import('./plugins/registry.ts');
  const { describeDatabase } = await import('./db/database.ts');
  await loadExternalPlugins(config.plugins);
  configureServicePlugins(config);
  const lines = [
    'Configuration is valid.',
    `  listen        ${config.host}:${config.port}`,
    `  data folder   ${config.dataDir}`,
    `  database      ${describeDatabase(config)}`,
    `  storage       ${config.storageDir}`,
    `  master key    ${config.masterKey ? 'from HOLDFAST_MASTER_KEY' : config.masterKeyFile}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function runCli(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(`${usage}\n`);
    } else if (command === 'migrate') {
      await (await import('./cli-admin.ts')).migrateCommand();
    } else if (command === 'admin' && sub === 'create') {
      await (await import('./cli-admin.ts')).adminCreate(rest);
    } else if (command === 'admin' && sub === 'recover') {
      await (await import('./cli-admin.ts')).adminRecover(rest);
    } else if (command === 'config' && sub === 'check') {
      await configCheck();
    } else if (command === 'config' && sub === 'reference') {
      process.stdout.write(configReferenceMarkdown((await import('./plugins/registry.ts')).builtInAppSettings()));
    } else if (command === 'repo') {
      process.exitCode = await (await import('./cli-repo.ts')).runRepoCommand(argv.slice(1));
    } else if (command === 'dr') {
      if (!sub || sub === 'help') process.stdout.write(`${(await import('./cli-dr.ts')).drUsage}\n`);
      else process.exitCode = await (await import('./cli-dr.ts')).runDrCommand(argv.slice(1));
    } else if (command === 'db') {
      if (!sub || sub === 'help') process.stdout.write(`${(await import('./cli-db.ts')).dbUsage}\n`);
      else process.exitCode = await (await import('./cli-db.ts')).runDbCommand(argv.slice(1));
    } else if (command === 'migration' && sub === 'create') {
      await (await import('./cli-admin.ts')).migrationCreate(rest[0]);
    } else {
      fail(`unknown command "${argv.join(' ')}"\n\n${usage}`, EXIT_USAGE);
    }
  } catch (err) {
    if (
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    ) {
      fail((err as Error).message, EXIT_USAGE);
    }
    exitWithStartupError(err);
  }
}

if (import.meta.main) {
  // Repository commands run with bounded-memory V8 settings (core/memory-flags.ts).
  // A backup of mostly small files gets its own (core/source-profile.ts).
  if (process.argv[2] === 'repo') {
    const { reexecWithMemoryFlags, repoWork } = await import('./memory-flags.ts');
    reexecWithMemoryFlags(await repoWork(process.argv.slice(3)));
  }
  await runCli(process.argv.slice(2));
}
