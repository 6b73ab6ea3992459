// The default storage location an installation brings with it (docker compose's MinIO): named by
// HOLDFAST_DEFAULT_STORAGE_KIND (a sink plugin's kind), HOLDFAST_DEFAULT_STORAGE_NAME and one
// HOLDFAST_DEFAULT_STORAGE_<SETTING> per sink setting (the setting's name in upper snake case:
// accessKeyId → ACCESS_KEY_ID). Checked at start; created once the root organization exists (at
// setup, or at the next start) like a location added in Settings › Storage — connection tested,
// secrets sealed — and made the root's own location and its default for new accounts. A location
// of that name that exists already is left as it is, whatever was changed in it since.
import type { EntityManager } from '@mikro-orm/core';
import { ConfigError, DEFAULT_STORAGE_ENV_PREFIX } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import type { AuditActor } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import { Organization } from '../identity/entities.ts';
import type { Logger } from '../logging.ts';
import { sinkPlugin } from '../plugins/registry.ts';
import { formFieldsOf, valuesFromInput } from '../plugins/settings-form.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { setDefaultForNewAccounts, setOrganizationLocation } from './assignment.ts';
import { StorageLocation } from './entities.ts';
import { createLocation } from './locations.ts';

const PREFIX = DEFAULT_STORAGE_ENV_PREFIX;
const KIND = `${PREFIX}KIND`;
const NAME = `${PREFIX}NAME`;

export interface ConfiguredStorage {
  kind: string;
  name: string;
  /** The sink's settings as form strings, secrets among them. */
  settings: Record<string, string>;
}

function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The configured default location, or null when no HOLDFAST_DEFAULT_STORAGE_* is set. Throws ConfigError. */
export function configuredDefaultStorage(config: Pick<Config, 'unclaimed'>): ConfiguredStorage | null {
  const env = config.unclaimed.env;
  const names = Object.keys(env).filter((k) => k.startsWith(PREFIX));
  if (names.length === 0) return null;
  const kind = env[KIND]?.trim() ?? '';
  if (!kind) {
    throw new ConfigError(names.filter((n) => n !== NAME).map((n) => `${n}: set ${KIND} too (the sink kind, e.g. s3)`));
  }
  const plugin = sinkPlugin(kind);
  if (!plugin) throw new ConfigError([`${KIND}: no sink plugin of kind "${kind}" is installed (got "${kind}")`]);
  const fields = formFieldsOf(plugin.settings, plugin.secretSettings);
  const byEnv = new Map(fields.map((f) => [`${PREFIX}${upperSnake(f.name)}`, f.name]));
  const problems: string[] = [];
  const settings: Record<string, string> = {};
  for (const envName of names) {
    if (envName === KIND || envName === NAME) continue;
    const setting = byEnv.get(envName);
    if (setting) settings[setting] = env[envName] ?? '';
    else problems.push(`${envName}: the ${kind} sink has no such setting`);
  }
  if (problems.length === 0) {
    const parsed = plugin.settings.safeParse(
      valuesFromInput(fields, settings, { from: 'form', blankRequired: 'unset' }),
    );
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = String(issue.path[0] ?? '');
        const envName = `${PREFIX}${upperSnake(field)}`;
        const got =
          plugin.secretSettings.includes(field) || !(field in settings)
            ? ''
            : ` (got "${settings[field]?.slice(0, 40)}")`;
        problems.push(`${envName}: ${issue.message}${got}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { kind, name: env[NAME]?.trim().slice(0, 200) || 'Default storage', settings };
}

const ACTOR: AuditActor = { label: `Holdfast (${PREFIX}* settings)` };

/**
 * Creates the configured default location if the root exists and has no location of its name
 * yet. A store that cannot be reached is logged and tried again at the next start; it never
 * stops setup or start-up.
 */
export async function ensureConfiguredDefaultStorage(deps: {
  config: Config;
  em: EntityManager;
  credentials: CredentialCipher;
  log: Logger;
  now: Date;
}): Promise<void> {
  const configured = configuredDefaultStorage(deps.config);
  if (!configured) return;
  const em = deps.em.fork();
  const root = await em.findOne(Organization, { kind: 'root' });
  if (!root) return;
  if (await em.findOne(StorageLocation, { organization: root.id, name: configured.name })) return;
  const ctx = { em, credentials: deps.credentials, storageDir: deps.config.storageDir };
  try {
    const { location } = await createLocation(ctx, root, configured, 'form', ACTOR, deps.now);
    await setOrganizationLocation(em, root, location.id, ACTOR);
    await setDefaultForNewAccounts(em, root, location.id, ACTOR);
    deps.log.info(
      { location: location.name, where: location.description },
      `created the default storage location from ${PREFIX}*`,
    );
  } catch (err) {
    const detail = err instanceof ValidationError ? JSON.stringify(err.fields ?? {}) : (err as Error).message;
    deps.log.error(
      { problem: detail },
      `could not create the default storage location from ${PREFIX}* (backups go to the built-in local disk until it is; tried again at the next start)`,
    );
  }
}
