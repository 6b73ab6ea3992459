// Connecting a task through the service's own sign-in pages (OAuth 2 authorization code with
// PKCE, S256). The kernel makes the state and the code verifier, keeps them — with what the admin
// chose on the add-task form — in a short-lived cookie sealed with the credential cipher (so the
// browser carries it but can neither read nor forge it), and sends the browser to the service. On
// the way back the state must match, the cookie must be the same user's in the same organization
// and not expired; only then is the code traded for the task's connection settings.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, type FieldErrors, fieldErrorsFrom } from '../errors.ts';
import type { ServiceOAuth } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';

/** How long the service's sign-in may take before the admin has to start again. */
export const OAUTH_PENDING_MS = 15 * 60_000;
export const OAUTH_COOKIE = 'holdfast_oauth';
const CONTEXT = 'oauth-pending';

export interface PendingConnection {
  state: string;
  verifier: string;
  service: string;
  organizationId: string;
  userId: string;
  /** A new task (with the form's name and settings), or new credentials for an existing one. */
  purpose: 'create' | 'reconnect';
  taskId?: string;
  name?: string;
  settings?: Record<string, unknown>;
  /** The plugin's connect choices (its `oauth.choices`), already validated; {} without any. */
  choices?: Record<string, unknown>;
  expiresAt: number;
}

/** The part of a service plugin's contract this flow uses. */
export interface OAuthCapable {
  authorizationUrl(input: {
    redirectUri: string;
    state: string;
    codeChallenge: string;
    choices?: Readonly<Record<string, unknown>>;
  }): string;
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** Starts a connection: the URL to send the browser to and the sealed cookie value to set. */
export function beginOAuth(
  oauth: OAuthCapable,
  credentials: CredentialCipher,
  redirectUri: string,
  pending: Omit<PendingConnection, 'state' | 'verifier' | 'expiresAt'>,
  now: Date,
): { url: string; cookie: string } {
  const state = base64url(randomBytes(24));
  const verifier = base64url(randomBytes(48));
  const codeChallenge = base64url(createHash('sha256').update(verifier).digest());
  const full: PendingConnection = { ...pending, state, verifier, expiresAt: now.getTime() + OAUTH_PENDING_MS };
  return {
    url: oauth.authorizationUrl({ redirectUri, state, codeChallenge, choices: pending.choices ?? {} }),
    cookie: credentials.encrypt(JSON.stringify(full), CONTEXT),
  };
}

/**
 * The admin's answers to the plugin's connect choices, checked by its schema: the parsed values,
 * or a message per field. A plugin without choices has none ({}).
 */
export function parseOAuthChoices(
  oauth: Pick<ServiceOAuth<unknown>, 'choices'>,
  input: Record<string, unknown>,
): { choices: Record<string, unknown> } | { errors: FieldErrors } {
  if (!oauth.choices) return { choices: {} };
  const parsed = oauth.choices.safeParse(input);
  return parsed.success ? { choices: parsed.data } : { errors: fieldErrorsFrom(parsed.error.issues) };
}

/**
 * The choices a task was connected with, read back from its stored settings for re-authenticating
 * (fixed once connected). Settings stored before the plugin had choices get the schema's defaults.
 */
export function storedOAuthChoices(
  oauth: Pick<ServiceOAuth<unknown>, 'choices'>,
  settings: unknown,
): Record<string, unknown> {
  if (!oauth.choices) return {};
  const parsed = oauth.choices.safeParse(settings ?? {});
  return parsed.success ? parsed.data : {};
}

export class OAuthFlowError extends AppError {
  constructor(message: string) {
    super('oauth_flow', message, 400);
    this.name = 'OAuthFlowError';
  }
}

/** The pending connection the browser came back with, checked against the returned state. */
export function finishOAuth(
  credentials: CredentialCipher,
  cookie: string | undefined,
  returnedState: string | undefined,
  who: { organizationId: string; userId: string },
  now: Date,
): PendingConnection {
  const again = 'Start connecting again from the backup task.';
  if (!cookie) throw new OAuthFlowError(`The sign-in at the service could not be matched to this browser. ${again}`);
  let pending: PendingConnection;
  try {
    pending = JSON.parse(credentials.decrypt(cookie, CONTEXT)) as PendingConnection;
  } catch {
    throw new OAuthFlowError(`The sign-in at the service could not be matched to this browser. ${again}`);
  }
  const expected = Buffer.from(pending.state);
  const given = Buffer.from(returnedState ?? '');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new OAuthFlowError(`The answer from the service does not belong to this sign-in. ${again}`);
  }
  if (pending.expiresAt < now.getTime()) throw new OAuthFlowError(`The sign-in took too long. ${again}`);
  if (pending.organizationId !== who.organizationId || pending.userId !== who.userId) {
    throw new OAuthFlowError(`This sign-in was started by another user or in another account. ${again}`);
  }
  return pending;
}
