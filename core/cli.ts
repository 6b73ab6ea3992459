// The `holdfast` command line: headless administration of an appliance's data folder.
// It uses the same configuration (HOLDFAST_* variables, HOLDFAST_CONFIG file) as the server.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { configReferenceMarkdown } from '../config/reference.ts';
import { openKernel } from './appliance.ts';
import { runRepoCommand } from './cli-repo.ts';
import { migrate, migrator, openDatabase } from './db/database.ts';
import { ValidationError } from './errors.ts';
import { completeSetup, SetupAlreadyCompleteError } from './identity/setup-service.ts';
import { createStderrLogger } from './logging.ts';
import { exitWithStartupError } from './startup-errors.ts';

export const EXIT_USAGE = 2;
export const EXIT_SETUP_DONE = 3;

const usage = `Usage: holdfast <command> [options]

Commands:
  migrate                          Apply pending database migrations.
  admin create --email <address>   Create the root organization and first administrator
      [--organization <name>]      (first-run setup, without a browser). The password is
                                   read from standard input, or prompted for on a terminal.
  config check                     Validate the configuration and print where data lives.
  config reference                 Print the configuration reference (Markdown).
  migration create [name]          Developers: write a migration for entity changes.
  repo <command> …                 Operate a backup repository (see: holdfast repo help).

Settings come from HOLDFAST_* environment variables and the HOLDFAST_CONFIG file.
Exit codes: 0 done, 1 failed, 2 usage error, 3 setup already completed, 78 bad configuration.`;

function fail(message: string, code: number): never {
  process.stderr.write(`holdfast: ${message}\n`);
  process.exit(code);
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
      // Hide what is typed: echo nothing but the prompt.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.startsWith(prompt)) process.stdout.write(prompt);
      };
      rl.question(prompt, (answer) => {
        rl.close();
        process.stdout.write('\n');
        resolve(answer);
      });
    });
  const first = await ask('Password: ');
  const second = await ask('Confirm password: ');
  if (first !== second) fail('the two passwords do not match', EXIT_USAGE);
  return first;
}

async function adminCreate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, organization: { type: 'string', default: 'Holdfast' } },
    strict: true,
  });
  if (!values.email) fail('admin create needs --email <address>', EXIT_USAGE);
  const config = loadConfig();
  const log = createStderrLogger('warn');
  const kernel = await openKernel(config, log);
  try {
    const password = await readPassword();
    const { user, organization } = await completeSetup(kernel.orm.em, {
      email: values.email,
      organizationName: values.organization,
      password,
    });
    process.stdout.write(`Created administrator ${user.email} of "${organization.name}".\n`);
  } catch (err) {
    if (err instanceof SetupAlreadyCompleteError)
      fail('setup has already been completed; an administrator exists', EXIT_SETUP_DONE);
    if (err instanceof ValidationError) {
      const lines = Object.entries(err.fields ?? {}).map(([field, message]) => `  ${field}: ${message}`);
      fail(`cannot create the administrator:\n${lines.join('\n')}`, EXIT_USAGE);
    }
    throw err;
  } finally {
    await kernel.close();
  }
}

async function migrateCommand(): Promise<void> {
  // Through the kernel, so a fresh data folder also gets its master key before it has data.
  const kernel = await openKernel(loadConfig(), createStderrLogger('warn'));
  try {
    const applied = kernel.migrationsApplied;
    process.stdout.write(applied.length ? `Applied ${applied.join(', ')}\n` : 'The database is up to date.\n');
  } finally {
    await kernel.close();
  }
}

async function migrationCreate(name: string | undefined): Promise<void> {
  const config = loadConfig();
  const orm = await openDatabase(config);
  try {
    await migrate(orm);
    const result = await migrator(orm).create(undefined, false, false, name);
    if (!result.fileName) process.stdout.write('No entity changes: no migration written.\n');
    else process.stdout.write(`Wrote ${result.fileName}; add it to core/db/migrations/sqlite/index.ts.\n`);
  } finally {
    await orm.close();
  }
}

function configCheck(): void {
  const config = loadConfig();
  const lines = [
    'Configuration is valid.',
    `  listen        ${config.host}:${config.port}`,
    `  data folder   ${config.dataDir}`,
    `  database      ${config.databasePath}`,
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
      await migrateCommand();
    } else if (command === 'admin' && sub === 'create') {
      await adminCreate(rest);
    } else if (command === 'config' && sub === 'check') {
      configCheck();
    } else if (command === 'config' && sub === 'reference') {
      process.stdout.write(configReferenceMarkdown());
    } else if (command === 'repo') {
      process.exitCode = await runRepoCommand(argv.slice(1));
    } else if (command === 'migration' && sub === 'create') {
      await migrationCreate(rest[0]);
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
  await runCli(process.argv.slice(2));
}
