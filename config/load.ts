// Reads the configuration: defaults, overridden by the optional JSON file named in
// HOLDFAST_CONFIG, overridden by HOLDFAST_* environment variables. Every problem is
// reported at once, one line each, naming the setting as the user wrote it. Variables and file
// keys the appliance does not read itself are kept for the plugins that declare them
// (plugin-settings.ts checks them, and reports unknown file keys, once plugins are loaded).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFIG_FILE_ENV, type Config, type SettingName, settings, type UnclaimedSettings } from './schema.ts';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Base for relative paths (default: the working directory). */
  cwd?: string;
}

const names = Object.keys(settings) as SettingName[];
const envNames = new Set<string>([CONFIG_FILE_ENV, ...names.map((n) => settings[n].env)]);

function readConfigFile(path: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`${CONFIG_FILE_ENV}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    problems.push(`${CONFIG_FILE_ENV}: ${path} is not valid JSON (${(err as Error).message})`);
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${CONFIG_FILE_ENV}: ${path} must hold a JSON object of settings`);
    return {};
  }
  return parsed as Record<string, unknown>;
}

function describe(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Names of HOLDFAST_* variables that no setting reads (likely typos), for a start-up warning;
 * `declared` are the plugins' own variables.
 */
export function unknownEnvNames(env: NodeJS.ProcessEnv = process.env, declared: readonly string[] = []): string[] {
  return Object.keys(env).filter(
    (k) =>
      k.startsWith('HOLDFAST_') &&
      !envNames.has(k) &&
      !declared.includes(k) &&
      !k.startsWith(DEFAULT_STORAGE_ENV_PREFIX),
  );
}

/**
 * The default storage location's variables (core/storage-locations/configured-default.ts): the
 * sink kind and its settings, whose names depend on the sink, so they are checked there.
 */
export const DEFAULT_STORAGE_ENV_PREFIX = 'HOLDFAST_DEFAULT_STORAGE_';

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const filePath = env[CONFIG_FILE_ENV]?.trim() ? resolve(cwd, env[CONFIG_FILE_ENV].trim()) : undefined;
  const fromFile = filePath ? readConfigFile(filePath, problems) : {};

  const raw: Record<string, unknown> = {};
  for (const name of names) {
    const spec = settings[name];
    const envValue = env[spec.env];
    const useEnv = envValue !== undefined && envValue !== '';
    const input = useEnv ? envValue : fromFile[name];
    const result = spec.schema.safeParse(input);
    if (result.success) {
      raw[name] = result.data;
    } else {
      const where = useEnv ? spec.env : `${name} (in ${filePath})`;
      const secret = spec.kind === 'secret';
      const got = secret || input === undefined ? '' : ` (got "${describe(input)}")`;
      problems.push(`${where}: ${result.error.issues[0]?.message ?? 'invalid'}${got}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  // Paths the user gives are relative to the working directory; derived ones live in the data dir.
  const dataDir = resolve(cwd, raw.dataDir as string);
  const pathOr = (value: unknown, fallback: string) =>
    typeof value === 'string' ? resolve(cwd, value) : resolve(dataDir, fallback);
  const unclaimed: UnclaimedSettings = { env: {}, file: {}, filePath: filePath ?? null };
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('HOLDFAST_') && !envNames.has(key) && value) unclaimed.env[key] = value;
  }
  for (const [key, value] of Object.entries(fromFile)) {
    if (!(names as string[]).includes(key)) unclaimed.file[key] = value;
  }
  return {
    ...(raw as unknown as Config),
    unclaimed,
    dataDir,
    databasePath: pathOr(raw.databasePath, 'holdfast.sqlite'),
    storageDir: pathOr(raw.storageDir, 'storage'),
    masterKeyFile: pathOr(raw.masterKeyFile, 'master.key'),
  };
}
