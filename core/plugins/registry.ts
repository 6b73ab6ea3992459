// The one place the kernel names built-in plugins. Everything else finds plugins through here.
// Service plugins: Dropbox is built in; external ones are loaded from HOLDFAST_PLUGINS, and tests
// register their fake service directly. `configureServicePlugins` hands each built-in connector
// its appliance-wide settings (its registered app, an API base) from the configuration.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../../config/schema.ts';
import dropboxServicePlugin from '../../plugins/services/dropbox/index.ts';
import azureSinkPlugin from '../../plugins/sinks/azure/index.ts';
import gcsSinkPlugin from '../../plugins/sinks/gcs/index.ts';
import localSinkPlugin from '../../plugins/sinks/local/index.ts';
import s3SinkPlugin from '../../plugins/sinks/s3/index.ts';
import { type ServiceAppSettings, type ServicePlugin, searchFieldsProblem } from './service.ts';
import type { SinkPlugin } from './sink.ts';

export const sinkPlugins: readonly SinkPlugin<never>[] = [
  localSinkPlugin as SinkPlugin<never>,
  s3SinkPlugin as SinkPlugin<never>,
  azureSinkPlugin as SinkPlugin<never>,
  gcsSinkPlugin as SinkPlugin<never>,
];

export function sinkPlugin(kind: string): SinkPlugin<unknown> | undefined {
  return sinkPlugins.find((p) => p.kind === kind) as SinkPlugin<unknown> | undefined;
}

const builtInServicePlugins: readonly ServicePlugin[] = [dropboxServicePlugin as unknown as ServicePlugin];

export type ConnectorConfig = Pick<Config, 'dropboxAppKey' | 'dropboxAppSecret' | 'dropboxApiBase'>;

/** Each built-in connector's settings from the configuration (names as its README gives them). */
const connectorSettings: Record<string, (config: ConnectorConfig) => ServiceAppSettings> = {
  dropbox: (c) => ({ appKey: c.dropboxAppKey, appSecret: c.dropboxAppSecret, apiBase: c.dropboxApiBase }),
};

/** Passes the built-in connectors their settings; at start-up and in every job worker. */
export function configureServicePlugins(config: ConnectorConfig): void {
  for (const plugin of builtInServicePlugins) {
    const values = connectorSettings[plugin.kind];
    if (values) plugin.configure?.(values(config));
  }
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

/**
 * Loads external plugin modules (npm package names or absolute paths) and registers what they
 * default-export. Runs at start-up and in every job worker, so both see the same plugins.
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
    if (!isServicePlugin(module.default)) {
      throw new Error(`plugin ${specifier} (HOLDFAST_PLUGINS) does not default-export a service plugin descriptor`);
    }
    registerServicePlugin(module.default as ServicePlugin<never, never>);
  }
}
