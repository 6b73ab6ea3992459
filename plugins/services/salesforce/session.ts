// The plugin's way to Salesforce: a jsforce Connection (refresh token of the web-server flow, or
// a JWT bearer assertion re-signed when the session expires) whose own retries are turned off, so
// every call goes through `SalesforceApi.call`: the API budget is checked before it (from the
// Sforce-Limit-Info header of the answers), throttling and 5xx answers are retried through the
// project's retry helper (`withRetries`), an expired session is refreshed once, and what still
// fails is mapped once to the kernel's error types.
import { createSign } from 'node:crypto';
import type { Logger } from '../../../core/plugins/service.ts';
import { ServiceAuthError, TransientServiceError } from '../../../core/plugins/service.ts';
import { PermanentSinkError, TransientSinkError } from '../../../core/plugins/sink.ts';
import { type RetryPolicy, withRetries } from '../../../core/plugins/sink-support/retry.ts';
import { type Environment, loginUrl, type SalesforceApp } from './app.ts';
import { Connection, OAuth2, Transport } from './jsforce.ts';

export const API_VERSION = '62.0';

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface SalesforceSettings {
  environment: Environment;
  myDomainUrl?: string | undefined;
  /** The org the task belongs to (18-character id). */
  orgId: string;
  orgName?: string | undefined;
  /** Web-server flow. */
  refreshToken?: string | undefined;
  /** JWT bearer flow: the integration user and the private key whose certificate the connected app holds. */
  username?: string | undefined;
  privateKey?: string | undefined;
  /** The key of the replicate's consistent anonymization (base64url, 32 bytes; sealed with the settings). */
  anonymizationKey?: string | undefined;
}

/** The run must stop: going on would push the org's usage past the task's limit. */
export class BudgetExhausted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetExhausted';
  }
}

interface Usage {
  used: number;
  max: number;
}

/** jsforce's transport without its built-in retries (ours own them); notes the answers' Date header. */
class CallTransport extends Transport {
  serverTime: number | undefined;
  /** Headers of the last answer (Bulk API 2.0 pages results by Sforce-Locator). */
  headers: Record<string, string> = {};
  /** The org's usage from the last Sforce-Limit-Info (REST, Bulk and SOAP answers alike). */
  usage: Usage | undefined;
  override httpRequest(...[req, options]: Parameters<Transport['httpRequest']>) {
    const answer = super.httpRequest(req, { ...options, retry: { maxRetries: 0 } });
    answer.then(
      (res) => {
        this.headers = (res.headers ?? {}) as Record<string, string>;
        const limit = /api-usage=(\d+)\/(\d+)/.exec(this.headers['sforce-limit-info'] ?? '');
        if (limit) this.usage = { used: Number(limit[1]), max: Number(limit[2]) };
        // SOAP (Metadata API) answers have no such header but count: keep the estimate current.
        else if (this.usage) this.usage = { ...this.usage, used: this.usage.used + 1 };
        const date = Date.parse(String(res.headers?.date ?? ''));
        if (!Number.isNaN(date)) this.serverTime = date;
      },
      () => {},
    );
    return answer;
  }
}

function jwtAssertion(app: SalesforceApp, settings: SalesforceSettings): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'RS256' })}.${enc({
    iss: app.clientId,
    sub: settings.username,
    aud: loginUrl(app, settings.environment, settings.myDomainUrl),
    exp: Math.floor(Date.now() / 1000) + 180,
  })}`;
  const signature = createSign('RSA-SHA256')
    .update(body)
    .sign(settings.privateKey as string)
    .toString('base64url');
  return `${body}.${signature}`;
}

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

type SfError = Error & { errorCode?: string; code?: string };

/** Salesforce's error code; SOAP faults carry a namespace prefix (sf:INVALID_SESSION_ID). */
function errorCode(err: unknown): string {
  const e = err as SfError;
  return String(e?.errorCode ?? e?.name ?? '').replace(/^\w+:/, '');
}

/** Throttling (not the daily budget), query timeouts, 5xx and dropped connections. */
function transient(err: unknown): boolean {
  const code = errorCode(err);
  const message = (err as Error)?.message ?? '';
  if (code === 'REQUEST_LIMIT_EXCEEDED') return !message.includes('TotalRequests');
  if (code === 'QUERY_TIMEOUT' || code === 'UNKNOWN_EXCEPTION' || code === 'SERVER_UNAVAILABLE') return true;
  if (/^ERROR_HTTP_5\d\d$/.test(code)) return true;
  // fetch's network failures are TypeErrors ("fetch failed", "terminated"); other TypeErrors are bugs.
  const network = err instanceof TypeError && /fetch failed|terminated|network/i.test(message);
  const cause = ((err as Error)?.cause as SfError | undefined)?.code ?? (err as SfError)?.code ?? '';
  return network || ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'UND_ERR_SOCKET'].includes(cause);
}

export class SalesforceApi {
  readonly conn: Connection;
  readonly #transport = new CallTransport();
  readonly #retry: RetryPolicy;
  readonly #log: Logger;
  /** Calls this connection sent (each attempt counts: Salesforce counts them all). */
  calls = 0;
  /** Share of the daily budget the run may use (1–100), if limited. */
  limitPercent: number | null = null;
  #refreshedThisCall = 0;
  #refreshFailure: Error | undefined;
  readonly #app: SalesforceApp;
  readonly #settings: SalesforceSettings;
  readonly #oauth2: OAuth2;

  /** The task's settings (a replicate checks the environment and takes the anonymization key). */
  get settings(): Readonly<SalesforceSettings> {
    return this.#settings;
  }

  constructor(app: SalesforceApp, settings: SalesforceSettings, log: Logger, retry: RetryPolicy = DEFAULT_RETRY) {
    this.#retry = retry;
    this.#log = log;
    this.#app = app;
    this.#settings = settings;
    const oauth2 = new OAuth2({
      loginUrl: loginUrl(app, settings.environment, settings.myDomainUrl),
      clientId: app.clientId,
      clientSecret: app.clientSecret,
    });
    this.#oauth2 = oauth2;
    this.conn = new Connection({
      oauth2,
      version: API_VERSION,
      ...(settings.refreshToken ? { refreshToken: settings.refreshToken } : {}),
      // One refresh per call: a session refused right after a refresh means the grant is gone.
      refreshFn: (_conn, callback) => {
        // jsforce wraps what the callback gets in a plain Error: the original is kept for call().
        if (this.#refreshedThisCall++ > 0) {
          this.#refreshFailure = new ServiceAuthError(
            'Salesforce refused the session right after renewing it: authenticate the task again.',
          );
          callback(this.#refreshFailure);
          return;
        }
        this.#token().then(
          (res) => callback(undefined, res.access_token, res as never),
          (err: unknown) => {
            this.#refreshFailure = err as Error;
            callback(err as Error);
          },
        );
      },
    });
    this.conn._transport = this.#transport;
  }

  /** A new access token (refresh token or JWT assertion), set on the connection. */
  async #token(): Promise<{ access_token: string; instance_url: string; id: string }> {
    let assertion: string | undefined;
    if (!this.#settings.refreshToken) {
      try {
        assertion = jwtAssertion(this.#app, this.#settings);
      } catch {
        throw new ServiceAuthError(
          'The private key could not sign the JWT bearer assertion: give an RSA private key in PEM.',
        );
      }
    }
    let res: { access_token: string; instance_url: string; id: string };
    try {
      res = this.#settings.refreshToken
        ? await this.#oauth2.refreshToken(this.#settings.refreshToken)
        : await this.#oauth2.requestToken({ grant_type: JWT_GRANT, assertion } as never);
    } catch (err) {
      if (transient(err)) throw err;
      throw new ServiceAuthError(
        `Salesforce refused the task's authorization (${(err as Error).message || errorCode(err)}): authenticate the task again.`,
        { cause: err },
      );
    }
    this.conn.instanceUrl = res.instance_url;
    this.conn.accessToken = res.access_token;
    const [organizationId, id] = res.id.split('/').slice(-2) as [string, string];
    this.conn.userInfo = { id, organizationId, url: res.id };
    return res;
  }

  /** Logs in (a first token) and returns the org id and user the credentials reach. */
  async login(signal: AbortSignal): Promise<{ orgId: string; userId: string }> {
    this.#refreshedThisCall = 1;
    const res = await this.call('logging in', () => this.#token(), signal, { counted: false });
    const [orgId, userId] = res.id.split('/').slice(-2) as [string, string];
    return { orgId, userId };
  }

  /** The org's daily usage as its last answer reported it. */
  get usage(): Usage | undefined {
    return this.#transport.usage;
  }

  /** A header of the last answer (lower-case name). */
  header(name: string): string | undefined {
    return this.#transport.headers[name];
  }

  /** The org's clock at its last answer (Date header), else ours. */
  get serverTime(): number {
    return this.#transport.serverTime ?? Date.now();
  }

  /** Calls the run may still make under the task's limit; undefined before the first answer. */
  allowed(): number | undefined {
    const u = this.usage;
    if (!u || this.limitPercent === null) return undefined;
    return Math.floor((u.max * this.limitPercent) / 100);
  }

  budgetMessage(): string {
    const u = this.usage;
    const cap = this.allowed();
    return `Stopped at the task's API usage limit (${this.limitPercent} % of the org's ${u?.max ?? '?'} daily API requests = ${cap ?? '?'}; ${u?.used ?? '?'} used): the next run continues from here.`;
  }

  /** One API call: budget-checked, retried when transient, errors mapped. */
  async call<T>(
    what: string,
    operation: () => Promise<T>,
    signal: AbortSignal,
    options: { counted?: boolean } = {},
  ): Promise<T> {
    const counted = options.counted ?? true;
    try {
      return await withRetries(
        async () => {
          signal.throwIfAborted();
          const cap = this.allowed();
          const u = this.usage;
          if (counted && cap !== undefined && u && u.used + 1 > cap) throw new BudgetExhausted(this.budgetMessage());
          if (counted) {
            this.#refreshedThisCall = 0;
            this.calls++;
          }
          this.#refreshFailure = undefined;
          try {
            return await operation();
          } catch (err) {
            throw this.#refreshFailure ?? err;
          }
        },
        (err) => {
          if (transient(err)) {
            this.#log.debug({ what, code: errorCode(err) }, 'Salesforce call retried');
            return new TransientSinkError(`${what}: ${(err as Error).message}`, undefined, { cause: err });
          }
          return new PermanentSinkError(`${what}: ${(err as Error).message}`, undefined, { cause: err });
        },
        this.#retry,
      );
    } catch (wrapped) {
      const err = (wrapped as Error).cause ?? wrapped;
      throw mapError(what, err, wrapped instanceof TransientSinkError);
    }
  }
}

function mapError(what: string, err: unknown, wasTransient: boolean): Error {
  if (err instanceof ServiceAuthError || err instanceof BudgetExhausted || (err as Error)?.name === 'AbortError') {
    return err as Error;
  }
  const code = errorCode(err);
  const message = (err as Error)?.message ?? String(err);
  if (code === 'REQUEST_LIMIT_EXCEEDED' && message.includes('TotalRequests')) {
    return new BudgetExhausted(`Salesforce refused the call: the org's daily API request limit is reached (${what}).`);
  }
  if (code === 'INVALID_SESSION_ID' || code === 'invalid_grant') {
    return new ServiceAuthError('Salesforce refused the task\u2019s session: authenticate the task again.', {
      cause: err,
    });
  }
  if (wasTransient) return new TransientServiceError(`Salesforce kept failing (${what}: ${code})`, { cause: err });
  return new Error(`Salesforce refused ${what}: ${code ? `${code}: ` : ''}${message}`.slice(0, 500), { cause: err });
}
