// The plugin's way to Dropbox: the `dropbox` SDK (v10) with a fetch of our own underneath that
// (1) sends requests to HOLDFAST_DROPBOX_API_BASE when set — the SDK builds https://api-<domain>/,
// https://api-content-<domain>/ and https://api-<domain>/oauth2/token for a custom `domain`, and
// the fetch maps those to the base — (2) retries 429s (honouring Retry-After), 5xx answers and
// network errors under the plugins' one retry policy (a file's download and its requests share
// one budget: withBudget), and (3) refreshes an access token Dropbox reports
// expired. What still fails is mapped once, in `mapError`, to the kernel's error types.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Dropbox, DropboxAuth, DropboxResponseError } from 'dropbox';
import { backoffDelay, RetryBudget, type RetryPolicy, sleep } from '../../../core/plugins/retry.ts';
import { ServiceAuthError, TransientServiceError } from '../../../core/plugins/service.ts';
import type { DropboxApp } from './app.ts';

export type { RetryPolicy } from '../../../core/plugins/retry.ts';
export type { DropboxApp } from './app.ts';

/** Tries of one request, or of one file's download with the requests under it (one budget). */
export const DEFAULT_RETRY: Required<RetryPolicy> = { attempts: 5, baseDelayMs: 200, maxDelayMs: 60_000 };

/** The budget of the operation under way, when a caller opened one (see withBudget). */
const budgets = new AsyncLocalStorage<RetryBudget>();

/** Runs `work` so that every request it makes draws its tries from `budget`. */
export function withBudget<T>(budget: RetryBudget, work: () => Promise<T>): Promise<T> {
  return budgets.run(budget, work);
}

/** The SDK's custom domain when an API base is set; URLs on it are rewritten to the base. */
const MARKER = 'holdfast-dropbox-api-base.invalid';
const MARKER_URL = /^https:\/\/[a-z-]*holdfast-dropbox-api-base\.invalid\//;

function contentBase(app: DropboxApp): string {
  return app.apiBase ? `${app.apiBase}/2/` : 'https://content.dropboxapi.com/2/';
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after');
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value) * 1000;
}

const retryableStatus = (status: number) => status === 429 || status === 408 || (status >= 500 && status <= 599);

function replayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer
  );
}

export interface TransportHooks {
  /** A new access token after Dropbox answered expired_access_token. */
  refresh?: () => Promise<string | undefined>;
  /** Called before each wait: a request was throttled or failed and will be sent again. */
  onRetry?: (info: { status: number | 'network'; waitMs: number; attempt: number }) => void;
}

/** fetch with the API base rewrite, bounded retries and the expired-token refresh. */
export function transport(app: DropboxApp, retry: RetryPolicy, hooks: TransportHooks = {}): typeof fetch {
  const policy = { ...DEFAULT_RETRY, ...retry };
  return async (input, init) => {
    const url = app.apiBase ? String(input).replace(MARKER_URL, `${app.apiBase}/`) : input;
    let headers = init?.headers;
    let refreshed = false;
    const canReplay = replayable(init?.body);
    const budget = budgets.getStore() ?? new RetryBudget(policy.attempts);
    budget.take();
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { ...init, ...(headers ? { headers } : {}) });
      } catch (err) {
        if (init?.signal?.aborted || !canReplay || !budget.take()) throw err;
        const waitMs = backoffDelay(attempt, policy);
        hooks.onRetry?.({ status: 'network', waitMs, attempt });
        await sleep(waitMs, init?.signal);
        continue;
      }
      if (res.status === 401 && hooks.refresh && !refreshed && canReplay) {
        const text = await res.clone().text();
        if (text.includes('expired_access_token')) {
          refreshed = true;
          const token = await hooks.refresh();
          headers = { ...(headers as Record<string, string>), Authorization: `Bearer ${token}` };
          await res.body?.cancel();
          continue;
        }
      }
      if (!retryableStatus(res.status) || !canReplay || !budget.take()) return res;
      const waitMs = Math.min(policy.maxDelayMs, retryAfterMs(res.headers) ?? backoffDelay(attempt, policy));
      hooks.onRetry?.({ status: res.status, waitMs, attempt });
      await res.body?.cancel();
      await sleep(waitMs, init?.signal);
    }
  };
}

/** A route error (409) of Dropbox: `summary` is its error_summary ("path/not_found/…"). */
export class DropboxRouteError extends Error {
  readonly summary: string;
  readonly error: Record<string, unknown>;
  constructor(summary: string, error: Record<string, unknown>) {
    super(`Dropbox answered ${summary.replace(/\/\.*$/, '')}`);
    this.name = 'DropboxRouteError';
    this.summary = summary;
    this.error = error;
  }

  get tag(): string | undefined {
    const tag = this.error['.tag'];
    return typeof tag === 'string' ? tag : undefined;
  }
}

/** A member who cannot be read now (suspended, no longer on the team): that entity fails, not the task. */
export class MemberUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemberUnavailableError';
  }
}

const RECONNECT = 'reconnect the backup task to Dropbox';

/** Turns what the SDK or fetch threw into the kernel's error types; messages never hold tokens. */
export function mapError(err: unknown): Error {
  if (err instanceof ServiceAuthError || err instanceof TransientServiceError) return err;
  if (err instanceof DropboxResponseError) {
    const body = err.error as { error?: unknown; error_summary?: string; error_description?: string } | string;
    const status = err.status;
    if (typeof body === 'object' && body !== null && typeof body.error === 'string') {
      // The OAuth token endpoint: the refresh token or the app itself is refused.
      if (body.error === 'invalid_grant') {
        return new ServiceAuthError(
          `Dropbox no longer accepts this task's authorization (it was revoked or expired): ${RECONNECT}.`,
        );
      }
      if (body.error === 'invalid_client') {
        return new ServiceAuthError(
          'Dropbox refused the app key or secret configured for this appliance (HOLDFAST_DROPBOX_APP_KEY/SECRET).',
        );
      }
    }
    const route =
      typeof body === 'object' && body !== null && typeof body.error === 'object'
        ? (body.error as Record<string, unknown>)
        : undefined;
    const tag = typeof route?.['.tag'] === 'string' ? (route['.tag'] as string) : undefined;
    if (status === 401) {
      if (tag === 'user_suspended')
        return new MemberUnavailableError('The member is suspended at Dropbox, so their files cannot be read.');
      if (tag === 'invalid_select_user')
        return new MemberUnavailableError('The member is no longer on the Dropbox team.');
      if (tag === 'invalid_select_admin')
        return new ServiceAuthError(
          `The Dropbox admin who connected the task is no longer a team admin: ${RECONNECT}.`,
        );
      if (tag === 'missing_scope')
        return new ServiceAuthError(`The Dropbox app lacks a permission it needs (missing_scope): ${RECONNECT}.`);
      return new ServiceAuthError(`Dropbox refused the task's access token (${tag ?? 'unauthorized'}): ${RECONNECT}.`);
    }
    if (status === 429 || retryableStatus(status)) {
      const wait = retryAfterMs(err.headers as unknown as Headers);
      return new TransientServiceError(
        status === 429
          ? 'Dropbox is rate limiting this app (429) beyond the retries'
          : `Dropbox answered ${status} repeatedly`,
        { cause: err, ...(wait !== undefined ? { retryAfterMs: wait } : {}) },
      );
    }
    if (status === 409 && route) {
      const summary =
        typeof body === 'object' && body !== null && typeof body.error_summary === 'string'
          ? body.error_summary
          : (tag ?? 'other');
      return new DropboxRouteError(summary, route);
    }
    const text = typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body).slice(0, 300);
    return new Error(`Dropbox answered ${status}: ${text}`);
  }
  if (err instanceof TypeError && /fetch failed|network|socket|ECONN/i.test(`${err.message} ${String(err.cause)}`)) {
    return new TransientServiceError(
      `Dropbox could not be reached: ${String((err.cause as Error | undefined)?.message ?? err.message)}`,
      {
        cause: err,
      },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Whose files a call works on: a member (Select-User) or a team folder (Select-Admin + Path-Root). */
export type Target = { kind: 'member'; memberId: string } | { kind: 'team_folder'; folderId: string; adminId: string };

function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** One authorization (a refresh token) and the clients made from it. */
export class DropboxSession {
  readonly app: DropboxApp;
  readonly auth: DropboxAuth;
  readonly fetch: typeof fetch;
  readonly retry: Required<RetryPolicy>;
  readonly #clients = new Map<string, Dropbox>();

  constructor(app: DropboxApp, refreshToken: string, policy: RetryPolicy = DEFAULT_RETRY, hooks: TransportHooks = {}) {
    this.app = app;
    this.retry = { ...DEFAULT_RETRY, ...policy };
    let auth: DropboxAuth | undefined;
    this.fetch = transport(app, this.retry, {
      ...hooks,
      refresh: async () => {
        await auth?.refreshAccessToken();
        return auth?.getAccessToken();
      },
    });
    auth = new DropboxAuth({
      clientId: app.appKey,
      clientSecret: app.appSecret,
      refreshToken,
      fetch: this.fetch,
      ...(app.apiBase ? { domain: MARKER } : {}),
    });
    this.auth = auth;
  }

  /** Gets a fresh access token now: a revoked authorization shows here (as ServiceAuthError). */
  async verify(): Promise<void> {
    try {
      await this.auth.refreshAccessToken();
    } catch (err) {
      throw mapError(err);
    }
  }

  /** The team-level client (team/* routes). */
  team(): Dropbox {
    return this.#client('team', {});
  }

  /** A client acting on a member's or a team folder's files. */
  files(target: Target): Dropbox {
    return target.kind === 'member'
      ? this.#client(`m:${target.memberId}`, { selectUser: target.memberId })
      : this.#client(`f:${target.folderId}`, {
          selectAdmin: target.adminId,
          pathRoot: JSON.stringify({ '.tag': 'namespace_id', namespace_id: target.folderId }),
        });
  }

  #client(key: string, options: { selectUser?: string; selectAdmin?: string; pathRoot?: string }): Dropbox {
    let client = this.#clients.get(key);
    if (!client) {
      client = new Dropbox({ auth: this.auth, ...options });
      this.#clients.set(key, client);
    }
    return client;
  }

  /**
   * files/download as a stream: the SDK's filesDownload buffers the whole file, so large files
   * are read here with the SDK's token and the same headers it would send.
   */
  async download(
    target: Target,
    path: string,
    signal: AbortSignal,
  ): Promise<{ metadata: Record<string, unknown>; body: AsyncIterable<Uint8Array> }> {
    try {
      await this.auth.checkAndRefreshAccessToken();
      const headers: Record<string, string> = {
        Authorization: `Bearer ${this.auth.getAccessToken()}`,
        'Dropbox-API-Arg': headerSafeJson({ path }),
      };
      if (target.kind === 'member') headers['Dropbox-API-Select-User'] = target.memberId;
      else {
        headers['Dropbox-API-Select-Admin'] = target.adminId;
        headers['Dropbox-API-Path-Root'] = JSON.stringify({ '.tag': 'namespace_id', namespace_id: target.folderId });
      }
      const res = await this.fetch(`${contentBase(this.app)}files/download`, { method: 'POST', headers, signal });
      if (!res.ok) {
        const text = await res.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // plain-text error bodies stay text
        }
        throw new DropboxResponseError(res.status, res.headers, body);
      }
      if (!res.body) throw new Error('Dropbox sent a download without a body');
      const metadata = JSON.parse(res.headers.get('dropbox-api-result') ?? '{}') as Record<string, unknown>;
      return { metadata, body: res.body as unknown as AsyncIterable<Uint8Array> };
    } catch (err) {
      throw mapError(err);
    }
  }
}

/** Runs an SDK call and maps what it throws. */
export async function call<T>(work: () => Promise<{ result: T }>): Promise<T> {
  try {
    return (await work()).result;
  } catch (err) {
    throw mapError(err);
  }
}
