// Commands that open the appliance's database: first-run setup without a browser, migrations.
// Loaded only when one of them runs, so other commands start fast.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { openKernel } from './appliance.ts';
import { askHidden } from './cli-prompt.ts';
import { databaseKind, migrate, migrator, openDatabase } from './db/database.ts';
import { ValidationError } from './errors.ts';
import { completeSetup, SetupAlreadyCompleteError } from './identity/setup-service.ts';
import { createStderrLogger } from './logging.ts';
import { ensureConfiguredDefaultStorage } from './storage-locations/configured-default.ts';
import { ensureWritableDir } from './system/data-dir.ts';

export const EXIT_USAGE = 2;
export const EXIT_SETUP_DONE = 3;

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
  const ask = askHidden;
  const first = await ask('Password: ');
  const second = await ask('Confirm password: ');
  if (first !== second) fail('the two passwords do not match', EXIT_USAGE);
  return first;
}

export async function adminCreate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      organization: { type: 'string', default: 'Holdfast' },
      'public-url': { type: 'string' },
    },
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
      publicUrl: values['public-url'],
    });
    await ensureConfiguredDefaultStorage({ ...kernel.deps, em: kernel.orm.em, now: new Date() });
    process.stdout.write(`Created administrator ${user.email} of "${organization.name}".\n`);
    if (!config.publicUrl && !values['public-url']) {
      process.stderr.write(
        'holdfast: links in mail (invitations, password resets) need the address users reach Holdfast at: set HOLDFAST_PUBLIC_URL.\n',
      );
    }
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

export async function migrateCommand(): Promise<void> {
  // Through the kernel, so a fresh data folder also gets its master key before it has data.
  const kernel = await openKernel(loadConfig(), createStderrLogger('warn'));
  try {
    const applied = kernel.migrationsApplied;
    process.stdout.write(applied.length ? `Applied ${applied.join(', ')}\n` : 'The database is up to date.\n');
  } finally {
    await kernel.close();
  }
}

export async function migrationCreate(name: string | undefined): Promise<void> {
  const config = loadConfig();
  ensureWritableDir(config.dataDir, 'HOLDFAST_DATA_DIR');
  const orm = await openDatabase(config);
  try {
    await migrate(orm);
    const result = await migrator(orm).create(undefined, false, false, name);
    if (!result.fileName) process.stdout.write('No entity changes: no migration written.\n');
    else
      process.stdout.write(
        `Wrote ${result.fileName}; add it to core/db/migrations/${databaseKind(config)}/index.ts.\n`,
      );
  } finally {
    await orm.close();
  }
}

/**
 * Break-glass for an operator locked out of their own appliance (forgotten password with no
 * mail server, IP restrictions that exclude them, a throttled account): sets a new password,
 * turns off the IP restrictions of the user's organization, clears the account's sign-in
 * counters and ends the user's sessions. When asked, also turns off two-factor (a lost phone
 * with lost recovery codes: --reset-two-factor) and clears every throttle of the account and of
 * every address (--clear-throttles: the command cannot know the operator's address). Needs access
 * to the data folder, which is the real authority here.
 */
export async function adminRecover(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      'reset-two-factor': { type: 'boolean', default: false },
      'clear-throttles': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.email) fail('admin recover needs --email <address>', EXIT_USAGE);
  const config = loadConfig();
  const kernel = await openKernel(config, createStderrLogger('warn'));
  try {
    const em = kernel.orm.em.fork();
    const { User } = await import('./identity/entities.ts');
    const user = await em.findOne(User, { email: values.email.trim().toLowerCase() }, { populate: ['organization'] });
    if (!user) fail(`no user has the email address ${values.email}`, EXIT_USAGE);
    const password = await readPassword();
    const { passwordProblem, hashPassword } = await import('./identity/password.ts');
    const problem = passwordProblem(password, user.email);
    if (problem) fail(`cannot use that password: ${problem}`, EXIT_USAGE);
    const org = user.organization;
    const hadRestrictions = org.ipRestrictionsEnabled;
    user.passwordHash = await hashPassword(password);
    user.passwordChangedAt = new Date();
    if (user.status !== 'active') user.status = 'active';
    user.emailConfirmedAt ??= new Date();
    org.ipRestrictionsEnabled = false;
    await em.flush();
    const { endUserSessions } = await import('./identity/session-service.ts');
    const { clearAccountThrottles, clearAddressThrottles } = await import('./identity/throttle.ts');
    await endUserSessions(em, user.id);
    const done = ['new password set'];
    if (hadRestrictions) done.push('IP restrictions turned off');
    if (values['reset-two-factor']) {
      const { resetTwoFactor, twoFactorEnabled } = await import('./identity/two-factor.ts');
      if (twoFactorEnabled(user) || user.totpSecret) {
        await resetTwoFactor(em, user);
        done.push('two-factor turned off');
      }
    }
    await clearAccountThrottles(em, user.email, { secondFactor: values['clear-throttles'] });
    if (values['clear-throttles']) {
      await clearAddressThrottles(em);
      done.push('throttles cleared (the account and every address)');
    } else {
      done.push('sign-in throttle cleared');
    }
    const { recordAudit } = await import('./audit/audit-service.ts');
    await recordAudit(em, {
      organization: org,
      activity: 'Password reset',
      account: user.email,
      description: `Recovered from the command line: ${done.join(', ')}, sessions ended`,
      actor: { label: 'holdfast admin recover', id: null },
    });
    process.stdout.write(
      `Recovered ${user.email}: ${done.join(', ').replace('IP restrictions turned off', `IP restrictions of "${org.name}" turned off`)}.\n`,
    );
  } finally {
    await kernel.close();
  }
}
