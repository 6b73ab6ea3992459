// What the plugin knows without the SDK: the app registered at Dropbox (from the appliance
// configuration), the OAuth URLs (Dropbox's, or a stand-in's under an API base) and the
// authorization URL of the connect flow. Kept apart so importing the registry stays cheap.
import type { ServiceAppSettings } from '../../../core/plugins/service.ts';

export interface DropboxApp {
  appKey: string;
  appSecret: string;
  /** Base URL of a stand-in that answers the API, content and OAuth paths (tests, demos). */
  apiBase?: string;
}

/** The app from appliance settings (`appKey`, `appSecret`, `apiBase`); throws when it is missing. */
export function dropboxApp(app: ServiceAppSettings): DropboxApp {
  if (!app.appKey || !app.appSecret) {
    throw new Error(
      'Dropbox is not set up on this appliance: the operator sets HOLDFAST_DROPBOX_APP_KEY and HOLDFAST_DROPBOX_APP_SECRET.',
    );
  }
  return { appKey: app.appKey, appSecret: app.appSecret, ...(app.apiBase ? { apiBase: app.apiBase } : {}) };
}

export function oauthUrls(app: DropboxApp): { authorize: string; token: string } {
  return app.apiBase
    ? { authorize: `${app.apiBase}/oauth2/authorize`, token: `${app.apiBase}/oauth2/token` }
    : { authorize: 'https://www.dropbox.com/oauth2/authorize', token: 'https://api.dropboxapi.com/oauth2/token' };
}

/** Team scopes: members and team folders, reading files as members, writing for restores. */
export const SCOPES = [
  'team_info.read',
  'members.read',
  'team_data.member',
  'team_data.team_space',
  'team_data.content.read',
  'team_data.content.write',
  'files.metadata.read',
  'files.content.read',
  'files.content.write',
] as const;

/** Where the admin approves the app: offline access (a refresh token), PKCE with S256. */
export function authorizationUrl(
  app: DropboxApp,
  input: { redirectUri: string; state: string; codeChallenge: string },
): string {
  const url = new URL(oauthUrls(app).authorize);
  url.search = new URLSearchParams({
    client_id: app.appKey,
    response_type: 'code',
    redirect_uri: input.redirectUri,
    state: input.state,
    code_challenge: input.codeChallenge,
    code_challenge_method: 'S256',
    token_access_type: 'offline',
    scope: SCOPES.join(' '),
  }).toString();
  return url.toString();
}
