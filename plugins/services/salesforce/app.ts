// What the plugin knows without jsforce: the connected app registered for the appliance (its
// consumer key and secret, appliance-wide), the login hosts (production, sandbox, My Domain, or
// a stand-in's URL) and the authorization URL of the connect flow. Kept apart so importing the
// registry stays cheap.
import type { ServiceAppSettings } from '../../../core/plugins/service.ts';

/**
 * The connector's appliance-wide settings, in one place: name → environment variable and meaning.
 * (The kernel reads them from the configuration and hands them to `configure`.)
 */
export const SALESFORCE_APP_SETTINGS = {
  clientId: { env: 'HOLDFAST_SALESFORCE_CLIENT_ID', description: 'Consumer key of the connected app.' },
  clientSecret: { env: 'HOLDFAST_SALESFORCE_CLIENT_SECRET', description: 'Consumer secret of the connected app.' },
  loginUrl: {
    env: 'HOLDFAST_SALESFORCE_LOGIN_URL',
    description: 'A login host to use instead of Salesforce’s for every task (a stand-in for tests and demos).',
  },
} as const;

export interface SalesforceApp {
  clientId: string;
  clientSecret: string;
  /** A stand-in's URL: every task logs in there, whatever environment it chose. */
  loginUrl?: string;
}

export function salesforceApp(app: ServiceAppSettings): SalesforceApp {
  if (!app.clientId || !app.clientSecret) {
    throw new Error(
      `Salesforce is not set up on this appliance: the operator sets ${SALESFORCE_APP_SETTINGS.clientId.env} and ${SALESFORCE_APP_SETTINGS.clientSecret.env}.`,
    );
  }
  return {
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    ...(app.loginUrl ? { loginUrl: app.loginUrl } : {}),
  };
}

export type Environment = 'production' | 'sandbox' | 'mydomain';

export const PRODUCTION_LOGIN = 'https://login.salesforce.com';
export const SANDBOX_LOGIN = 'https://test.salesforce.com';

/** Where a task logs in: the stand-in if one is set, else by its environment. */
export function loginUrl(app: SalesforceApp, environment: Environment = 'production', myDomainUrl?: string): string {
  if (app.loginUrl) return app.loginUrl.replace(/\/+$/, '');
  if (environment === 'sandbox') return SANDBOX_LOGIN;
  if (environment === 'mydomain' && myDomainUrl) return myDomainUrl.replace(/\/+$/, '');
  return PRODUCTION_LOGIN;
}

/** `api` for the REST API, `refresh_token` (offline access) so backups run without the admin. */
export const SCOPES = ['api', 'refresh_token'] as const;

/** Where the admin approves the connected app: PKCE with S256, offline access. */
export function authorizationUrl(
  app: SalesforceApp,
  input: { redirectUri: string; state: string; codeChallenge: string },
): string {
  const url = new URL(`${loginUrl(app)}/services/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: app.clientId,
    redirect_uri: input.redirectUri,
    state: input.state,
    code_challenge: input.codeChallenge,
    code_challenge_method: 'S256',
    scope: SCOPES.join(' '),
    prompt: 'login consent',
  }).toString();
  return url.toString();
}
