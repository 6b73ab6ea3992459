// Every setting of the appliance, in one place. Each entry names its environment variable,
// its key in the optional JSON config file, its default and the rule it must satisfy; the
// configuration reference in README.md is generated from this table (see reference.ts).
import { z } from 'zod';
import { normalizeEntry } from '../core/access/ip-match.ts';

export type SettingKind = 'integer' | 'string' | 'boolean' | 'enum' | 'url' | 'path' | 'secret';

export interface SettingSpec<T> {
  env: string;
  kind: SettingKind;
  /** Human-readable default for the reference (may describe a derived value). */
  defaultText: string;
  description: string;
  /** Parses the raw value (string from env, any JSON value from the file). */
  schema: z.ZodType<T>;
}

function integer(min: number, max: number): z.ZodType<number> {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
}

export function text(): z.ZodType<string> {
  return z.string({ error: 'must be text' }).trim().min(1, { error: 'must not be empty' });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number]> {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

export function url(): z.ZodType<string> {
  return z
    .string({ error: 'must be a URL' })
    .trim()
    .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
      error: 'must be an http:// or https:// URL',
    })
    .transform((v) => v.replace(/\/+$/, ''));
}

function postgresUrl(): z.ZodType<string> {
  return z
    .string({ error: 'must be a URL' })
    .trim()
    .refine((v) => URL.canParse(v) && /^postgres(ql)?:$/.test(new URL(v).protocol) && new URL(v).pathname.length > 1, {
      error: 'must be a postgres:// URL naming a database (postgres://user:password@host:5432/holdfast)',
    });
}

function flag(): z.ZodType<boolean> {
  return z.preprocess(
    (v) => (v === 'true' ? true : v === 'false' ? false : v),
    z.boolean({ error: 'must be true or false' }),
  );
}

function url2(kind: 'smtp'): z.ZodType<string> {
  return z
    .string({ error: 'must be a URL' })
    .trim()
    .refine((v) => URL.canParse(v) && /^smtps?:$/.test(new URL(v).protocol), {
      error: `must be an ${kind}:// or ${kind}s:// URL`,
    });
}

function proxyList(): z.ZodType<string[]> {
  return z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : v,
    z.array(z.string()).superRefine((entries, ctx) => {
      for (const entry of entries) {
        try {
          normalizeEntry(entry);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return;
        }
      }
    }),
  );
}

function list(): z.ZodType<string[]> {
  return z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : v,
    z.array(z.string({ error: 'must be a list of module names' }).trim().min(1)),
  );
}

function masterKey(): z.ZodType<string> {
  return z
    .string({ error: 'must be text' })
    .trim()
    .refine((v) => Buffer.from(v, 'base64').length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(v), {
      error: 'must be 32 random bytes encoded as base64 (e.g. `openssl rand -base64 32`)',
    });
}

function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const settings = {
  host: setting({
    env: 'HOLDFAST_HOST',
    kind: 'string',
    defaultText: '0.0.0.0',
    description: 'Address the web server binds to.',
    schema: text().default('0.0.0.0'),
  }),
  port: setting({
    env: 'HOLDFAST_PORT',
    kind: 'integer',
    defaultText: '8080',
    description: 'TCP port of the web server (0 picks a free port and logs it).',
    schema: integer(0, 65535).default(8080),
  }),
  publicUrl: setting({
    env: 'HOLDFAST_PUBLIC_URL',
    kind: 'url',
    defaultText: '(unset: the public address confirmed at setup)',
    description:
      'External URL users reach the appliance at. Links sent by mail use it (never the request Host); unset, they use the public address confirmed on the setup page, and none are mailed without either. An https URL also makes cookies HTTPS-only.',
    schema: url().optional(),
  }),
  trustedProxies: setting({
    env: 'HOLDFAST_TRUSTED_PROXIES',
    kind: 'string',
    defaultText: '(none)',
    description:
      'Comma-separated addresses or CIDR blocks of reverse proxies in front of the appliance. X-Forwarded-For and X-Forwarded-Proto are believed only from these peers: list the proxies themselves, never a whole private range.',
    schema: proxyList().default([]),
  }),
  metricsToken: setting({
    env: 'HOLDFAST_METRICS_TOKEN',
    kind: 'secret',
    defaultText: '(unset)',
    description:
      'Bearer token a Prometheus scraper sends to read /metrics (at least 24 characters). /metrics answers only when this or HOLDFAST_METRICS_ALLOW is set; with both, both apply.',
    schema: text()
      .refine((v) => v.length >= 24, { error: 'must be at least 24 characters (e.g. `openssl rand -hex 24`)' })
      .optional(),
  }),
  metricsAllow: setting({
    env: 'HOLDFAST_METRICS_ALLOW',
    kind: 'string',
    defaultText: '(none)',
    description:
      'Comma-separated addresses or CIDR blocks that may read /metrics (the scraper, e.g. 10.0.0.5). The client address is the one HOLDFAST_TRUSTED_PROXIES resolves.',
    schema: proxyList().default([]),
  }),
  dataDir: setting({
    env: 'HOLDFAST_DATA_DIR',
    kind: 'path',
    defaultText: './data',
    description: 'Folder for the database, the master key and the default local storage. Must be writable.',
    schema: text().default('./data'),
  }),
  databasePath: setting({
    env: 'HOLDFAST_DATABASE_PATH',
    kind: 'path',
    defaultText: '<dataDir>/holdfast.sqlite',
    description: 'SQLite database file (the embedded catalog and settings store).',
    schema: text().optional(),
  }),
  databaseUrl: setting({
    env: 'HOLDFAST_DATABASE_URL',
    kind: 'secret',
    defaultText: '(unset: the SQLite file HOLDFAST_DATABASE_PATH)',
    description:
      'PostgreSQL connection URL (postgres://user:password@host:5432/holdfast) for the scale-out mode; the database is created when missing. Unset: the embedded SQLite database.',
    schema: postgresUrl().optional(),
  }),
  databasePoolSize: setting({
    env: 'HOLDFAST_DATABASE_POOL_SIZE',
    kind: 'integer',
    defaultText: '10',
    description: 'PostgreSQL only: the most connections this process opens (see docs/OPERATIONS.md, pool sizing).',
    schema: integer(1, 500).default(10),
  }),
  databaseBusyTimeoutMs: setting({
    env: 'HOLDFAST_DATABASE_BUSY_TIMEOUT_MS',
    kind: 'integer',
    defaultText: '5000',
    description: 'How long a database write waits for a lock held by another connection before failing.',
    schema: integer(0, 600_000).default(5000),
  }),
  storageDir: setting({
    env: 'HOLDFAST_STORAGE_DIR',
    kind: 'path',
    defaultText: '<dataDir>/storage',
    description: 'Folder of the default local-disk storage location for backups.',
    schema: text().optional(),
  }),
  masterKey: setting({
    env: 'HOLDFAST_MASTER_KEY',
    kind: 'secret',
    defaultText: '(unset: read from the master key file)',
    description: 'Appliance master key (base64, 32 bytes) that encrypts stored credentials. Overrides the key file.',
    schema: masterKey().optional(),
  }),
  masterKeyFile: setting({
    env: 'HOLDFAST_MASTER_KEY_FILE',
    kind: 'path',
    defaultText: '<dataDir>/master.key',
    description: 'File holding the master key; generated (mode 0600) on first start when missing.',
    schema: text().optional(),
  }),
  sessionMaxAgeHours: setting({
    env: 'HOLDFAST_SESSION_MAX_AGE_HOURS',
    kind: 'integer',
    defaultText: '12',
    description: 'A browser session ends this many hours after login.',
    schema: integer(1, 24 * 30).default(12),
  }),
  sessionIdleMinutes: setting({
    env: 'HOLDFAST_SESSION_IDLE_MINUTES',
    kind: 'integer',
    defaultText: '60',
    description: 'A browser session ends after this many minutes without a request.',
    schema: integer(1, 24 * 60).default(60),
  }),
  smtpUrl: setting({
    env: 'HOLDFAST_SMTP_URL',
    kind: 'secret',
    defaultText: '(unset: mail goes to the outbox)',
    description:
      'SMTP server for outgoing mail, e.g. smtps://user:pass@mail.example.com:465. Unset: messages stay in the outbox the root administrator reads.',
    schema: url2('smtp').optional(),
  }),
  mailFrom: setting({
    env: 'HOLDFAST_MAIL_FROM',
    kind: 'string',
    defaultText: 'Holdfast <holdfast@localhost>',
    description: 'Sender address of mail from the appliance.',
    schema: text().default('Holdfast <holdfast@localhost>'),
  }),
  mailRetryBaseSeconds: setting({
    env: 'HOLDFAST_MAIL_RETRY_BASE_SECONDS',
    kind: 'integer',
    defaultText: '60',
    description:
      'First retry delay of a notification or identity mail (invitation, reset, sign-in alert) the mail server did not take, of a webhook delivery its receiver did not accept, and of an integration’s batch its collector did not take; each later retry waits twice as long (at most 1 hour).',
    schema: integer(0, 3600).default(60),
  }),
  mailMaxAttempts: setting({
    env: 'HOLDFAST_MAIL_MAX_ATTEMPTS',
    kind: 'integer',
    defaultText: '30',
    description:
      'Attempts to send a notification or identity mail before it is marked Failed in the outbox (30 attempts at the default delays span about a day).',
    schema: integer(1, 1000).default(30),
  }),
  webhooksAllowPrivate: setting({
    env: 'HOLDFAST_WEBHOOKS_ALLOW_PRIVATE',
    kind: 'boolean',
    defaultText: 'false',
    description:
      'Lets webhook endpoints and integrations (Splunk, syslog, Autotask, ConnectWise) use plain http:// and addresses on loopback, private, link-local and unique-local networks (refused by default: SSRF). For receivers on a trusted local network only (an on-premises ConnectWise PSA, say).',
    schema: flag().default(false),
  }),
  ssoAllowLoopback: setting({
    env: 'HOLDFAST_SSO_ALLOW_LOOPBACK',
    kind: 'boolean',
    defaultText: 'false',
    description:
      'Lets single sign-on identity providers use plain http:// on loopback (localhost, 127.0.0.1, ::1). Refused by default: identity provider endpoints must be https. For tests and local trials only.',
    schema: flag().default(false),
  }),
  ssoDnsServers: setting({
    env: 'HOLDFAST_SSO_DNS_SERVERS',
    kind: 'string',
    defaultText: '(the system resolver)',
    description:
      'Comma-separated DNS servers (address or address:port) asked for the TXT records that verify an organization’s e-mail domain for single sign-on.',
    schema: list().default([]),
  }),
  logLevel: setting({
    env: 'HOLDFAST_LOG_LEVEL',
    kind: 'enum',
    defaultText: 'info',
    description: `Log verbosity: ${LOG_LEVELS.join(', ')}.`,
    schema: oneOf(LOG_LEVELS).default('info'),
  }),
  shutdownTimeoutMs: setting({
    env: 'HOLDFAST_SHUTDOWN_TIMEOUT_MS',
    kind: 'integer',
    defaultText: '8000',
    description:
      'On SIGTERM/SIGINT, how long in-flight requests may take before connections are closed (the default keeps the whole stop under 10 s).',
    schema: integer(0, 600_000).default(8000),
  }),
  plugins: setting({
    env: 'HOLDFAST_PLUGINS',
    kind: 'string',
    defaultText: '(none)',
    description:
      'Comma-separated external plugin modules to load at start (npm package names or absolute paths of modules that default-export a plugin descriptor), in addition to the built-in ones.',
    schema: list().default([]),
  }),
  nodeRole: setting({
    env: 'HOLDFAST_NODE_ROLE',
    kind: 'enum',
    defaultText: 'both',
    description:
      'What this node does when several share one PostgreSQL database (README, "Scaling out"): `web` serves the UI and API and queues jobs; `worker` runs jobs, the scheduler and the senders (and answers /healthz); `both` does everything. On PostgreSQL, `web` or `worker` means multi-node mode, where local-disk storage is refused.',
    schema: oneOf(['web', 'worker', 'both'] as const).default('both'),
  }),
  jobRunner: setting({
    env: 'HOLDFAST_JOB_RUNNER',
    kind: 'enum',
    defaultText: 'worker',
    description:
      'Where jobs run: `worker` (each job in a worker thread with its own database connection, off the request thread) or `inline` (in the main thread; for debugging).',
    schema: oneOf(['worker', 'inline'] as const).default('worker'),
  }),
  jobConcurrency: setting({
    env: 'HOLDFAST_JOB_CONCURRENCY',
    kind: 'integer',
    defaultText: '4',
    description: 'Jobs (backups, restores, exports, maintenance) this appliance runs at once.',
    schema: integer(1, 256).default(4),
  }),
  jobsPerThread: setting({
    env: 'HOLDFAST_JOBS_PER_THREAD',
    kind: 'integer',
    defaultText: '1',
    description:
      "Jobs one worker thread runs at once. 1 gives each job's chunking, compression and encryption a thread of its own; API-bound backups (a SaaS service's calls, mostly waiting) can share threads, so fewer threads each load the kernel (less CPU and memory).",
    schema: integer(1, 64).default(1),
  }),
  jobsPerOrganization: setting({
    env: 'HOLDFAST_JOBS_PER_ORGANIZATION',
    kind: 'integer',
    defaultText: '2',
    description: 'Jobs of one customer account that run at once, so one account cannot take every slot.',
    schema: integer(1, 256).default(2),
  }),
  jobsPerTask: setting({
    env: 'HOLDFAST_JOBS_PER_TASK',
    kind: 'integer',
    defaultText: '1',
    description:
      "Jobs of one backup task that run at once (they share the service's API budget); one entity never has two at once.",
    schema: integer(1, 64).default(1),
  }),
  jobLeaseSeconds: setting({
    env: 'HOLDFAST_JOB_LEASE_SECONDS',
    kind: 'integer',
    defaultText: '60',
    description:
      'A running job renews its claim every third of this; a job whose claim lapsed (the appliance stopped) is resumed or failed within one such period.',
    schema: integer(2, 3600).default(60),
  }),
  jobMaxAttempts: setting({
    env: 'HOLDFAST_JOB_MAX_ATTEMPTS',
    kind: 'integer',
    defaultText: '3',
    description:
      'Attempts of a job that fails with a transient error (network, throttling) or is interrupted by a stop, before it is marked failed.',
    schema: integer(1, 20).default(3),
  }),
  jobRetryBaseSeconds: setting({
    env: 'HOLDFAST_JOB_RETRY_BASE_SECONDS',
    kind: 'integer',
    defaultText: '30',
    description: 'First retry delay after a transient failure; each later retry waits twice as long (at most 1 hour).',
    schema: integer(0, 3600).default(30),
  }),
  schedulerIntervalSeconds: setting({
    env: 'HOLDFAST_SCHEDULER_INTERVAL_SECONDS',
    kind: 'integer',
    defaultText: '30',
    description:
      'How often the scheduler looks for due backups, lapsed job claims and grace periods that ended (0 turns the scheduler and the job runner off, e.g. for a node that only serves the UI).',
    schema: integer(0, 3600).default(30),
  }),
  activityRetentionDays: setting({
    env: 'HOLDFAST_ACTIVITY_RETENTION_DAYS',
    kind: 'integer',
    defaultText: '365',
    description: 'System Activity rows older than this many days are deleted by the hourly housekeeping.',
    schema: integer(1, 36500).default(365),
  }),
  drillIntervalDays: setting({
    env: 'HOLDFAST_DRILL_INTERVAL_DAYS',
    kind: 'integer',
    defaultText: '7',
    description:
      "Every this many days each backup task's latest snapshots get a restore drill: a random sample of items restored into a scratch folder and checked (0 turns scheduled drills off; a drill can still be started from the task).",
    schema: integer(0, 365).default(7),
  }),
  drillSampleItems: setting({
    env: 'HOLDFAST_DRILL_SAMPLE_ITEMS',
    kind: 'integer',
    defaultText: '20',
    description: 'Items a restore drill picks at random from the latest snapshots of a task.',
    schema: integer(1, 10000).default(20),
  }),
  configBackupDelaySeconds: setting({
    env: 'HOLDFAST_CONFIG_BACKUP_DELAY_SECONDS',
    kind: 'integer',
    defaultText: '10',
    description:
      "After a change of the appliance's settings (organizations, users, tasks, schedules, locations), the encrypted configuration backup is written into every storage location once no further change came for this long.",
    schema: integer(0, 3600).default(10),
  }),
} as const;

export type SettingName = keyof typeof settings;

type RawConfig = { [K in SettingName]: z.output<(typeof settings)[K]['schema']> };

/**
 * What the configuration holds beyond the appliance's own settings: the `HOLDFAST_*` variables
 * and config file keys that plugins declare (a connector's app key and secret). They are
 * validated once the plugins are loaded (config/plugin-settings.ts); an unknown file key is a
 * problem then.
 */
export interface UnclaimedSettings {
  env: Record<string, string>;
  file: Record<string, unknown>;
  /** The config file they came from, for problems. */
  filePath: string | null;
}

/** The resolved configuration: derived paths filled in and made absolute. */
export interface Config extends Omit<RawConfig, 'databasePath' | 'storageDir' | 'masterKeyFile'> {
  databasePath: string;
  storageDir: string;
  masterKeyFile: string;
  unclaimed: UnclaimedSettings;
}

/** Environment variable that names the optional JSON config file. */
export const CONFIG_FILE_ENV = 'HOLDFAST_CONFIG';
