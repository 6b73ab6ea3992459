// Types shared by the HTTP layer: what each request carries through middleware.

import type { EntityManager } from '@mikro-orm/core';
import type { Config } from '../../config/schema.ts';
import type { Principal } from '../access/principal.ts';
import type { Database } from '../db/database.ts';
import type { IOrganization, ISession, IUser } from '../identity/entities.ts';
import type { Logger } from '../logging.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import type { TaskStorage } from '../tasks/storage.ts';
import type { Flash } from './flash.ts';
import type { Views } from './views.ts';

/** Long-lived parts of the appliance the routes use. */
export interface AppDeps {
  config: Config;
  orm: Database;
  log: Logger;
  views: Views;
  /** Key that signs the session cookie (derived from the master key). */
  cookieSecret: string;
  version: string;
  /** Cached once true: setup never becomes incomplete again. */
  setupState: { complete: boolean };
  mailer: Mailer;
  /** Encrypts secrets stored in the database (TOTP secrets, storage credentials). */
  credentials: CredentialCipher;
  /** The time; tests replace it to cross expiry boundaries. */
  now: () => Date;
  /** The tasks' backup repositories, for pages that read backups before a job (Recovery's item view, a restore's plan). */
  storage?: TaskStorage;
  /** Prometheus metrics, when /metrics is switched on (HOLDFAST_METRICS_TOKEN or _ALLOW). */
  metrics?: Metrics;
  /**
   * The appliance master key: only the recovery sheet shows it (Settings › Recovery, after the
   * password is entered again), and the configuration backup seals with it.
   */
  masterKey: Buffer;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    em: EntityManager;
    user: IUser | undefined;
    sessionToken: string | undefined;
    session: ISession | undefined;
    /** The signed-in user or API key, once sign-in is complete. */
    principal: Principal | undefined;
    /** The organization the request acts on: the principal's home, or a child account opened from a portal. */
    organization: IOrganization | undefined;
    /** A one-time banner set by the previous response (core/http/flash.ts). */
    flash: Flash | undefined;
  };
}
