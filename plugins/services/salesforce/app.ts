// What the plugin knows without jsforce: the connected app registered for the appliance (its
// consumer key and secret, appliance-wide), the login hosts (production, sandbox, My Domain, or
// a stand-in's URL) and the authorization URL of the connect flow. Kept apart so importing the
// registry stays cheap.
import type { ServiceAppSettingSpec, ServiceAppSettings } from '../../../core/plugins/service.ts';

/**
 * The connector's appliance-wide settings, in one place (the plugin's `appSettings`: the kernel
 * reads them from the environment or the config file and hands them to `configure`).
 */
export const SALESFORCE_APP_SETTINGS = [
  {
    name: 'clientId',
    env: 'HOLDFAST_SALESFORCE_CLIENT_ID',
    configKey: 'salesforceClientId',
    kind: 'string',
    // Both sign-in flows (the browser's and the JWT bearer flow) need the connected app.
    required: true,
    defaultText: '(unset: Salesforce tasks cannot be connected)',
    description:
      'Consumer key of the Salesforce connected app registered for this appliance (OAuth with PKCE, scopes api and refresh_token; digital signatures for the JWT bearer flow); tasks connect through it.',
  },
  {
    name: 'clientSecret',
    env: 'HOLDFAST_SALESFORCE_CLIENT_SECRET',
    configKey: 'salesforceClientSecret',
    kind: 'secret',
    // salesforceApp() refuses to run without it, so the Add task page must say so up front.
    required: true,
    defaultText: '(unset)',
    description: 'Consumer secret of that connected app.',
  },
  {
    name: 'loginUrl',
    env: 'HOLDFAST_SALESFORCE_LOGIN_URL',
    configKey: 'salesforceLoginUrl',
    kind: 'url',
    defaultText: '(unset: login.salesforce.com, test.salesforce.com or the task’s My Domain)',
    description:
      'Every Salesforce task signs in and calls the API at this base URL instead of Salesforce, whatever environment it chose (a stand-in for tests and demos).',
  },
] as const satisfies readonly ServiceAppSettingSpec[];

const envOf = (name: string) => SALESFORCE_APP_SETTINGS.find((s) => s.name === name)?.env;

export interface SalesforceApp {
  clientId: string;
  clientSecret: string;
  /** A stand-in's URL: every task logs in there, whatever environment it chose. */
  loginUrl?: string;
}

export function salesforceApp(app: ServiceAppSettings): SalesforceApp {
  if (!app.clientId || !app.clientSecret) {
    throw new Error(
      `Salesforce is not set up on this appliance: the operator sets ${envOf('clientId')} and ${envOf('clientSecret')}.`,
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

/** Why a My Domain URL cannot be a task's sign-in host, or undefined when it can. */
export function myDomainProblem(value: string, standIn?: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'Enter the My Domain URL, e.g. https://acme.my.salesforce.com.';
  }
  // The appliance's stand-in (tests, demos) is the one other host accepted.
  if (standIn && url.origin === new URL(standIn).origin) return undefined;
  if (url.protocol !== 'https:') return 'The My Domain URL starts with https://.';
  if (!url.hostname.endsWith('.my.salesforce.com')) {
    return 'A My Domain URL ends in .my.salesforce.com (e.g. https://acme.my.salesforce.com or https://acme--uat.sandbox.my.salesforce.com).';
  }
  if (url.pathname !== '/' || url.search || url.username)
    return 'Enter the My Domain URL without a path, e.g. https://acme.my.salesforce.com.';
  return undefined;
}

/** Where the admin approves the connected app: PKCE with S256, offline access; at the task's environment's login host. */
export function authorizationUrl(
  app: SalesforceApp,
  input: { redirectUri: string; state: string; codeChallenge: string; environment?: Environment; myDomainUrl?: string },
): string {
  const url = new URL(`${loginUrl(app, input.environment, input.myDomainUrl)}/services/oauth2/authorize`);
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
