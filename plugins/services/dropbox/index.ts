// The Dropbox service plugin: a Dropbox team (Business) connected through the appliance's team
// app (OAuth 2 code flow with PKCE), backing up each team member's Dropbox and each team folder.
// The SDK loads when a task connects, not when the registry is imported. See README.md.
import { z } from 'zod';
import type { ServiceAppSettings, ServicePlugin } from '../../../core/plugins/service.ts';
import { authorizationUrl, dropboxApp } from './app.ts';
import type { DropboxState } from './backup.ts';
import type { RetryPolicy } from './client.ts';
import { ContentHasher } from './content-hash.ts';
import type { DropboxSettings } from './oauth.ts';

export { type DropboxApp, dropboxApp } from './app.ts';
export type { DropboxState } from './backup.ts';
export type { DropboxSettings } from './oauth.ts';

export const DROPBOX_KIND = 'dropbox';

const settings = z.object({
  refreshToken: z.string({ error: 'Connect with Dropbox first.' }).min(1, { error: 'Connect with Dropbox first.' }),
  teamId: z.string({ error: 'Connect with Dropbox first.' }).min(1, { error: 'Connect with Dropbox first.' }),
  teamName: z.string().default(''),
});

/**
 * A Dropbox plugin descriptor. The built-in one gets its app from the appliance configuration
 * through `configure`; tests may pass one (and connection options) directly.
 */
export function createDropboxPlugin(
  fixed?: ServiceAppSettings,
  options: { retry?: RetryPolicy; concurrency?: number } = {},
): ServicePlugin<DropboxSettings, DropboxState> {
  let app: ServiceAppSettings = fixed ?? {};
  return {
    kind: DROPBOX_KIND,
    label: 'Dropbox',
    settings: settings as unknown as z.ZodType<DropboxSettings>,
    secretSettings: ['refreshToken'],
    entityKinds: [
      { kind: 'member', label: 'Team members' },
      { kind: 'team_folder', label: 'Team folders' },
    ],
    apiUsageLimit: false,
    // Incremental: a run learns only what changed (list_folder/continue) and deletes what is gone.
    snapshots: { mode: 'incremental' },
    // "/Docs" and "/DOCS" are one folder at Dropbox.
    pathsCaseInsensitive: true,
    // Dropbox's content_hash, kept with each file: restore drills check restored content against it.
    contentHash: { field: 'contentHash', create: () => new ContentHasher() },
    searchFields: [
      { name: 'name', label: 'File name', column: 'name' },
      { name: 'path', label: 'Path', column: 'path' },
      { name: 'author', label: 'Author', column: 'author' },
      { name: 'modified', label: 'Modified', column: 'modified' },
    ],
    // The operator's Dropbox team app, under the names the appliance has always read.
    appSettings: [
      {
        name: 'appKey',
        env: 'HOLDFAST_DROPBOX_APP_KEY',
        configKey: 'dropboxAppKey',
        kind: 'string',
        defaultText: '(unset: Dropbox tasks cannot be connected)',
        required: true,
        description:
          'App key of the Dropbox team app registered for this appliance (Dropbox App Console, scoped access, team scopes); tasks connect through it.',
      },
      {
        name: 'appSecret',
        env: 'HOLDFAST_DROPBOX_APP_SECRET',
        configKey: 'dropboxAppSecret',
        kind: 'secret',
        defaultText: '(unset)',
        required: true,
        description: 'App secret of that Dropbox app.',
      },
      {
        name: 'apiBase',
        env: 'HOLDFAST_DROPBOX_API_BASE',
        configKey: 'dropboxApiBase',
        kind: 'url',
        defaultText: "(unset: Dropbox's own API)",
        description:
          'Sends every Dropbox API, content and OAuth request to this base URL instead of Dropbox (a stand-in for tests and demos).',
      },
    ],
    configure(values) {
      if (!fixed) app = values;
    },
    oauth: {
      authorizationUrl: (input) => authorizationUrl(dropboxApp(app), input),
      exchangeCode: async (input, context) =>
        (await import('./oauth.ts')).exchangeCode(dropboxApp(app), input, context),
    },
    // A task stays with the team it was connected to: its members' ids belong to that team.
    accountOf: (s) => ({ id: s.teamId, label: `the Dropbox team “${s.teamName || s.teamId}”` }),
    async connect(s, context) {
      const { connectDropbox } = await import('./connection.ts');
      return connectDropbox(dropboxApp(app), s, context, options);
    },
  };
}

const dropboxPlugin = createDropboxPlugin();
export default dropboxPlugin;
