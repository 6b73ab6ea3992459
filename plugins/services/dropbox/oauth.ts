// Connecting a task: the authorization-code flow with PKCE for the appliance's Dropbox team app.
// The admin approves the team scopes at Dropbox; the code comes back to the appliance, which
// trades it (with the app secret and the PKCE verifier) for a refresh token — stored sealed with
// the task — and records which team it belongs to.
import { type Logger, ServiceAuthError } from '../../../core/plugins/service.ts';
import { type DropboxApp, oauthUrls } from './app.ts';
import { call, DropboxSession } from './client.ts';

export interface DropboxSettings {
  refreshToken: string;
  teamId: string;
  teamName: string;
}

export async function exchangeCode(
  app: DropboxApp,
  input: { code: string; redirectUri: string; codeVerifier: string },
  context: { signal: AbortSignal; log: Logger },
): Promise<DropboxSettings> {
  // Posted by hand: the SDK's getAccessTokenFromCode sends either the secret or the verifier,
  // and a confidential app that used PKCE must send both.
  const res = await fetch(oauthUrls(app).token, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: input.code,
      redirect_uri: input.redirectUri,
      code_verifier: input.codeVerifier,
      client_id: app.appKey,
      client_secret: app.appSecret,
    }),
    signal: context.signal,
  });
  const body = (await res.json().catch(() => ({}))) as {
    refresh_token?: string;
    team_id?: string;
    error?: string;
    error_description?: string;
  };
  if (!res.ok) {
    const why = body.error_description ?? body.error ?? `HTTP ${res.status}`;
    throw new ServiceAuthError(`Dropbox did not accept the authorization (${why}): connect again.`);
  }
  if (!body.refresh_token)
    throw new ServiceAuthError('Dropbox granted no refresh token (offline access): connect again.');
  if (!body.team_id) {
    throw new ServiceAuthError('Dropbox authorized a personal account: connect with a team admin of a Dropbox team.');
  }
  const session = new DropboxSession(app, body.refresh_token);
  const info = await call(() => session.team().teamGetInfo({ signal: context.signal }));
  context.log.info({ team: info.name }, 'Dropbox team connected');
  return { refreshToken: body.refresh_token, teamId: body.team_id, teamName: info.name };
}
