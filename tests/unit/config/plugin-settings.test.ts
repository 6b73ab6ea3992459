// Appliance-wide settings a plugin declares (its OAuth app, an API base) reach it by the names it
// gave, built-in or loaded from HOLDFAST_PLUGINS, from the environment or the config file, checked
// like the appliance's own; config/schema.ts names no plugin's settings.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, unknownEnvNames } from '../../../config/load.ts';
import { resolvePluginSettings } from '../../../config/plugin-settings.ts';
import { settings } from '../../../config/schema.ts';
import { configureServicePlugins, loadExternalPlugins, pluginEnvNames } from '../../../core/plugins/registry.ts';
import { configProblemsOf as problemsOf, tempDir } from '../../helpers/config.ts';

const dir = tempDir();
afterAll(() => dir.remove());

/** A third-party connector module as HOLDFAST_PLUGINS names it, recording what configure receives. */
function writePlugin(): string {
  const file = join(dir.path, 'acme-plugin.mjs');
  writeFileSync(
    file,
    `export const received = [];
export default {
  kind: 'acme', label: 'Acme', settings: {}, secretSettings: [], entityKinds: [], apiUsageLimit: false,
  snapshots: { mode: 'full' }, searchFields: [],
  appSettings: [
    { name: 'clientId', env: 'HOLDFAST_ACME_CLIENT_ID', configKey: 'acmeClientId', kind: 'string', defaultText: '(unset)', description: 'Client id.' },
    { name: 'clientSecret', env: 'HOLDFAST_ACME_CLIENT_SECRET', configKey: 'acmeClientSecret', kind: 'secret', defaultText: '(unset)', description: 'Client secret.' },
    { name: 'apiBase', env: 'HOLDFAST_ACME_API_BASE', configKey: 'acmeApiBase', kind: 'url', defaultText: '(unset)', description: 'API base.' },
  ],
  configure(values) { received.push(values); },
  connect: async () => { throw new Error('not used'); },
};
`,
  );
  return file;
}

describe("plugins' app settings", () => {
  it('reach an external plugin by the names it declares, from the environment and the config file', async () => {
    const file = writePlugin();
    await loadExternalPlugins([file]);
    const { received } = (await import(file)) as { received: Record<string, string | undefined>[] };
    const configFile = join(dir.path, 'holdfast.json');
    writeFileSync(
      configFile,
      JSON.stringify({ acmeClientSecret: 'from-the-file', acmeApiBase: 'http://127.0.0.1:9/' }),
    );
    configureServicePlugins(
      loadConfig({ env: { HOLDFAST_CONFIG: configFile, HOLDFAST_ACME_CLIENT_ID: 'client-from-env' } }),
    );
    expect(received.at(-1)).toEqual({
      clientId: 'client-from-env',
      clientSecret: 'from-the-file',
      apiBase: 'http://127.0.0.1:9',
    });
    expect(pluginEnvNames()).toEqual(expect.arrayContaining(['HOLDFAST_DROPBOX_APP_KEY', 'HOLDFAST_ACME_CLIENT_ID']));
    expect(unknownEnvNames({ HOLDFAST_ACME_CLIENT_ID: 'x', HOLDFAST_ACME_TYPO: 'y' }, pluginEnvNames())).toEqual([
      'HOLDFAST_ACME_TYPO',
    ]);
  });

  it('names an invalid value without echoing a secret, and a config file key nobody reads', () => {
    const configFile = join(dir.path, 'bad.json');
    writeFileSync(configFile, JSON.stringify({ colour: 'blue', dropboxAppKey: 'key-from-file' }));
    const acme = {
      kind: 'acme',
      appSettings: [
        {
          name: 'apiBase',
          env: 'HOLDFAST_ACME_API_BASE',
          configKey: 'acmeApiBase',
          kind: 'url' as const,
          defaultText: '',
          description: '',
        },
        {
          name: 'secret',
          env: 'HOLDFAST_ACME_SECRET',
          configKey: 'acmeSecret',
          kind: 'secret' as const,
          defaultText: '',
          description: '',
        },
      ],
    };
    const dropbox = {
      kind: 'dropbox',
      appSettings: [
        {
          name: 'appKey',
          env: 'HOLDFAST_DROPBOX_APP_KEY',
          configKey: 'dropboxAppKey',
          kind: 'string' as const,
          defaultText: '',
          description: '',
        },
      ],
    };
    const config = loadConfig({
      env: { HOLDFAST_CONFIG: configFile, HOLDFAST_ACME_API_BASE: 'ftp://nope', HOLDFAST_ACME_SECRET: ' ' },
    });
    expect(problemsOf(() => resolvePluginSettings(config, [acme, dropbox]))).toEqual([
      'HOLDFAST_ACME_API_BASE: must be an http:// or https:// URL (got "ftp://nope")',
      'HOLDFAST_ACME_SECRET: must not be empty',
      `colour (in ${configFile}): unknown setting`,
    ]);
  });

  it("refuses a plugin that declares one of the appliance's own variables", () => {
    const greedy = {
      kind: 'greedy',
      appSettings: [
        {
          name: 'port',
          env: 'HOLDFAST_PORT',
          configKey: 'greedyPort',
          kind: 'string' as const,
          defaultText: '',
          description: '',
        },
      ],
    };
    expect(problemsOf(() => resolvePluginSettings(loadConfig({ env: {} }), [greedy]))[0]).toMatch(
      /plugin greedy declares HOLDFAST_PORT/,
    );
  });

  it("leaves the connectors' settings out of the appliance's own schema", () => {
    expect(Object.values(settings).map((s) => s.env)).not.toContain('HOLDFAST_DROPBOX_APP_KEY');
  });
});
