// The appliance-wide settings plugins declare (a connector's OAuth client id and secret, an API
// base), read from the variables and config file keys the configuration kept for them, checked
// like the appliance's own settings: one problem per line, naming the variable or file key, never
// echoing a secret. A config file key that neither the appliance nor a plugin reads is a problem.
import type { ServiceAppSettingSpec, ServiceAppSettings } from '../core/plugins/service.ts';
import { ConfigError } from './load.ts';
import { CONFIG_FILE_ENV, type Config, settings, text, url } from './schema.ts';

/** A plugin as far as its settings go. */
export interface PluginSettingsDeclaration {
  kind: string;
  appSettings?: readonly ServiceAppSettingSpec[] | undefined;
}

const ownEnvNames = new Set<string>([CONFIG_FILE_ENV, ...Object.values(settings).map((s) => s.env)]);
const ownKeys = new Set(Object.keys(settings));

/** Every plugin's values keyed by plugin kind, then by the setting's name. Throws ConfigError. */
export function resolvePluginSettings(
  config: Pick<Config, 'unclaimed'>,
  plugins: readonly PluginSettingsDeclaration[],
): Record<string, ServiceAppSettings> {
  const { env, file, filePath } = config.unclaimed;
  const problems: string[] = [];
  const claimed = new Set<string>();
  const values: Record<string, ServiceAppSettings> = {};
  for (const plugin of plugins) {
    const own: Record<string, string | undefined> = {};
    for (const spec of plugin.appSettings ?? []) {
      if (!spec.env.startsWith('HOLDFAST_') || ownEnvNames.has(spec.env) || ownKeys.has(spec.configKey)) {
        problems.push(
          `plugin ${plugin.kind} declares ${spec.env} (${spec.configKey}), which is not a plugin's name to take`,
        );
        continue;
      }
      claimed.add(spec.configKey);
      const fromEnv = env[spec.env];
      const input = fromEnv ?? file[spec.configKey];
      if (input === undefined) continue;
      const result = (spec.kind === 'url' ? url() : text()).safeParse(input);
      if (result.success) {
        own[spec.name] = result.data;
        continue;
      }
      const where = fromEnv !== undefined ? spec.env : `${spec.configKey} (in ${filePath})`;
      const got = spec.kind === 'secret' ? '' : ` (got "${String(input).slice(0, 40)}")`;
      problems.push(`${where}: ${result.error.issues[0]?.message ?? 'invalid'}${got}`);
    }
    values[plugin.kind] = own;
  }
  for (const key of Object.keys(file)) {
    if (!claimed.has(key)) problems.push(`${key} (in ${filePath}): unknown setting`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values;
}

/** The variables the plugins declare, so they are not warned about as unknown. */
export function declaredEnvNames(plugins: readonly PluginSettingsDeclaration[]): string[] {
  return plugins.flatMap((p) => (p.appSettings ?? []).map((s) => s.env));
}
