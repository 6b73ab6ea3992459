// The one place the kernel names built-in plugins. Everything else finds plugins through here.
// Service plugins: Dropbox and Salesforce are built in; external ones are loaded from HOLDFAST_PLUGINS, and tests
// register their fake service directly. `configureServicePlugins` hands each connector the
// appliance-wide settings it declares (its registered app, an API base) from the configuration.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { declaredEnvNames, resolvePluginSettings } from '../../config/plugin-settings.ts';
import type { Config } from '../../config/schema.ts';
import dropboxServicePlugin from '../../plugins/services/dropbox/index.ts';
import salesforceServicePlugin from '../../plugins/services/salesforce/index.ts';
import azureSinkPlugin from '../../plugins/sinks/azure/index.ts';
import gcsSinkPlugin from '../../plugins/sinks/gcs/index.ts';
import localSinkPlugin from '../../plugins/sinks/local/index.ts';
import s3SinkPlugin from '../../plugins/sinks/s3/index.ts';
import {
  type ServiceAppSettingSpec,
  type ServiceAppSettings,
  type ServicePlugin,
  searchFieldsProblem,
} from './service.ts';
import type { SinkPlugin } from './sink.ts';

export const sinkPlugins: readonly SinkPlugin<never>[] = [
  localSinkPlugin as SinkPlugin<never>,
  s3SinkPlugin as SinkPlugin<never>,
  azureSinkPlugin as SinkPlugin<never>,
  gcsSinkPlugin as SinkPlugin<never>,
];

const addedSinkPlugins = new Map<string, SinkPlugin<never>>();

/** The built-in sink plugins, then the added ones (external packages, tests). */
export function allSinkPlugins(): SinkPlugin<unknown>[] {
  return [...sinkPlugins, ...addedSinkPlugins.values()] as SinkPlugin<unknown>[];
}

export function sinkPlugin(kind: string): SinkPlugin<unknown> | undefined {
  return allSinkPlugins().find((p) => p.kind === kind);
}

/** Adds a sink plugin (external packages, tests). A kind may be registered once. */
export function registerSinkPlugin<Settings>(plugin: SinkPlugin<Settings>): void {
  const existing = sinkPlugin(plugin.kind);
  if (existing === (plugin as unknown as SinkPlugin<unknown>)) return;
  if (existing) throw new Error(`a sink plugin of kind "${plugin.kind}" is already registered`);
  addedSinkPlugins.set(plugin.kind, plugin as unknown as SinkPlugin<never>);
}

const builtInServicePlugins: readonly ServicePlugin[] = [
  dropboxServicePlugin as unknown as ServicePlugin,
  salesforceServicePlugin as unknown as ServicePlugin,
];

/**
 * Hands every service plugin (built-in and added) the appliance-wide settings it declares, read
 * from the configuration by the names it gave; at start-up and in every job worker, after the
 * external plugins are loaded. Throws ConfigError for invalid values and unknown config file keys.
 */
export function configureServicePlugins(config: Pick<Config, 'unclaimed'>): void {
  const plugins = servicePlugins();
  const values = resolvePluginSettings(config, plugins);
  for (const plugin of plugins) {
    configuredAppSettings.set(plugin.kind, values[plugin.kind] ?? {});
    plugin.configure?.(values[plugin.kind] ?? {});
  }
}

/** What configureServicePlugins handed each plugin (absent: never configured by the kernel). */
const configuredAppSettings = new Map<string, ServiceAppSettings>();

/**
 * The plugin's required app settings the configuration leaves unset: tasks of it cannot be
 * connected until they are set. Empty for a plugin the kernel has not configured (one a test
 * registers with its settings built in).
 */
export function missingAppSettings(plugin: ServicePlugin): ServiceAppSettingSpec[] {
  const values = configuredAppSettings.get(plugin.kind);
  if (!values) return [];
  return (plugin.appSettings ?? []).filter((spec) => spec.required && !values[spec.name]);
}

/** The built-in plugins' declared settings, for the configuration table in README.md. */
export function builtInAppSettings(): ServiceAppSettingSpec[] {
  return builtInServicePlugins.flatMap((p) => [...(p.appSettings ?? [])]);
}

/** Variables the loaded plugins read, so they are not warned about as unknown. */
export function pluginEnvNames(): string[] {
  return declaredEnvNames(servicePlugins());
}

const addedServicePlugins = new Map<string, ServicePlugin>();

export function servicePlugins(): ServicePlugin[] {
  return [...builtInServicePlugins, ...addedServicePlugins.values()];
}

export function servicePlugin(kind: string): ServicePlugin | undefined {
  return builtInServicePlugins.find((p) => p.kind === kind) ?? addedServicePlugins.get(kind);
}

/** Adds a service plugin (external packages, tests). A kind may be registered once. */
export function registerServicePlugin(plugin: ServicePlugin<never, never>): void {
  const existing = servicePlugin(plugin.kind);
  if (existing === plugin) return;
  if (existing) throw new Error(`a service plugin of kind "${plugin.kind}" is already registered`);
  const problem = searchFieldsProblem(plugin.kind, plugin.searchFields ?? []);
  if (problem) throw new Error(problem);
  addedServicePlugins.set(plugin.kind, plugin as unknown as ServicePlugin);
}

function isServicePlugin(value: unknown): value is ServicePlugin {
  const v = value as Partial<ServicePlugin> | null;
  return (
    !!v &&
    typeof v.kind === 'string' &&
    typeof v.connect === 'function' &&
    typeof v.settings === 'object' &&
    Array.isArray(v.entityKinds)
  );
}

function isSinkPlugin(value: unknown): value is SinkPlugin<never> {
  const v = value as Partial<SinkPlugin<never>> | null;
  return (
    !!v &&
    typeof v.kind === 'string' &&
    typeof v.create === 'function' &&
    typeof v.settings === 'object' &&
    Array.isArray(v.secretSettings)
  );
}

/**
 * Loads external plugin modules (npm package names or absolute paths) and registers what they
 * default-export (a service or a sink descriptor). Runs at start-up and in every job worker, so both see the same plugins.
 */
export async function loadExternalPlugins(specifiers: readonly string[]): Promise<void> {
  for (const specifier of specifiers) {
    const url = isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier;
    let module: { default?: unknown };
    try {
      module = (await import(url)) as { default?: unknown };
    } catch (err) {
      throw new Error(`cannot load plugin ${specifier} (HOLDFAST_PLUGINS): ${(err as Error).message}`, { cause: err });
    }
    if (isServicePlugin(module.default)) registerServicePlugin(module.default as ServicePlugin<never, never>);
    else if (isSinkPlugin(module.default)) registerSinkPlugin(module.default);
    else {
      throw new Error(
        `plugin ${specifier} (HOLDFAST_PLUGINS) does not default-export a service or sink plugin descriptor`,
      );
    }
  }
}
