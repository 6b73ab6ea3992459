// Command-line options for sinks, derived from the sink plugins' settings schemas: each setting is
// an option in kebab case (accessKeyId → --access-key-id, forcePathStyle → --force-path-style),
// numbers are parsed, booleans are flags. Secret settings may instead come from the environment
// (HOLDFAST_SINK_SECRET_ACCESS_KEY, HOLDFAST_SINK_ACCOUNT_KEY, …), which keeps them out of shell
// history and process listings.
import { z } from 'zod';
import type { SinkPlugin } from './plugins/sink.ts';

type FieldKind = 'string' | 'number' | 'boolean';

export function optionName(setting: string): string {
  return setting
    .replace(/MiB/g, 'Mib')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

export function secretEnvName(setting: string): string {
  return `HOLDFAST_SINK_${optionName(setting).replace(/-/g, '_').toUpperCase()}`;
}

function fieldKind(schema: z.ZodType): FieldKind {
  let current = schema as z.ZodType & { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } };
  for (;;) {
    const def = current.def;
    if (def.innerType && ['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch'].includes(def.type)) {
      current = def.innerType as typeof current;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in as typeof current;
    } else {
      break;
    }
  }
  const type = current.def.type;
  return type === 'number' || type === 'int' ? 'number' : type === 'boolean' ? 'boolean' : 'string';
}

/** Each plugin's settings by name, with their kind. */
export function settingFields(plugin: SinkPlugin<unknown>): Map<string, FieldKind> {
  const fields = new Map<string, FieldKind>();
  if (plugin.settings instanceof z.ZodObject) {
    for (const [name, schema] of Object.entries(plugin.settings.shape))
      fields.set(name, fieldKind(schema as z.ZodType));
  }
  return fields;
}

/** parseArgs option declarations for every setting of every plugin. */
export function sinkCliOptions(
  plugins: readonly SinkPlugin<unknown>[],
): Record<string, { type: 'string' | 'boolean' }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const plugin of plugins) {
    for (const [name, kind] of settingFields(plugin)) {
      options[optionName(name)] = { type: kind === 'boolean' ? 'boolean' : 'string' };
    }
  }
  return options;
}

/**
 * The settings a plugin gets from parsed options (and the environment, for secrets). Throws with
 * a usage message for an option that belongs to no setting of this plugin or a number that isn't.
 */
export function settingsFromOptions(
  plugin: SinkPlugin<unknown>,
  values: Record<string, string | boolean | undefined>,
  allSinkOptions: ReadonlySet<string>,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const fields = settingFields(plugin);
  const own = new Set([...fields.keys()].map(optionName));
  for (const [option, value] of Object.entries(values)) {
    if (value !== undefined && allSinkOptions.has(option) && !own.has(option)) {
      throw new Error(`--${option} is not a setting of the ${plugin.kind} sink`);
    }
  }
  const settings: Record<string, unknown> = {};
  for (const [name, kind] of fields) {
    const value = values[optionName(name)];
    if (value === undefined) continue;
    if (kind === 'number') {
      const n = Number(value);
      if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) {
        throw new Error(`--${optionName(name)} takes a number`);
      }
      settings[name] = n;
    } else {
      settings[name] = value;
    }
  }
  return withSecretsFromEnv(plugin, settings, env);
}

/** Fills secret settings that are not given from HOLDFAST_SINK_* environment variables. */
export function withSecretsFromEnv(
  plugin: SinkPlugin<unknown>,
  settings: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const out = { ...settings };
  for (const secret of plugin.secretSettings) {
    const fromEnv = env[secretEnvName(secret)];
    if (out[secret] === undefined && fromEnv) out[secret] = fromEnv;
  }
  return out;
}
