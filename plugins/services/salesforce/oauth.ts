// Connecting a task by the web-server flow with PKCE: the admin approves the connected app at
// Salesforce; the code comes back to the appliance, which trades it (with the consumer secret and
// the PKCE verifier) for a refresh token — stored sealed with the task — and records the org.
import type { Logger } from '../../../core/plugins/service.ts';
import { ServiceAuthError } from '../../../core/plugins/service.ts';
import { type Environment, loginUrl, type SalesforceApp } from './app.ts';
import { OAuth2 } from './jsforce.ts';

/** What the admin chose on the add-task page (or the task stored): where the org signs in. */
export interface SalesforceChoices {
  environment: Environment;
  myDomainUrl?: string;
}

import type { SalesforceSettings } from './session.ts';

export async function exchangeCode(
  app: SalesforceApp,
  input: { code: string; redirectUri: string; codeVerifier: string; choices: SalesforceChoices },
  context: { signal: AbortSignal; log: Logger },
): Promise<SalesforceSettings> {
  const { environment, myDomainUrl } = input.choices;
  const oauth2 = new OAuth2({
    loginUrl: loginUrl(app, environment, myDomainUrl),
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    redirectUri: input.redirectUri,
  });
  let res: { refresh_token?: string; id: string };
  try {
    res = (await oauth2.requestToken(input.code, { code_verifier: input.codeVerifier })) as typeof res;
  } catch (err) {
    throw new ServiceAuthError(
      `Salesforce did not accept the authorization (${(err as Error).message}): connect again.`,
    );
  }
  if (!res.refresh_token) {
    throw new ServiceAuthError(
      'Salesforce granted no refresh token: give the connected app the refresh_token (offline access) scope and connect again.',
    );
  }
  const orgId = res.id.split('/').slice(-2)[0] as string;
  context.log.info({ org: orgId }, 'Salesforce org connected');
  // The environment chosen before the sign-in is stored with the task and fixed from now on.
  return { environment, ...(myDomainUrl ? { myDomainUrl } : {}), orgId, refreshToken: res.refresh_token };
}
