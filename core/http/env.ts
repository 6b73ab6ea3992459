// Types shared by the HTTP layer: what each request carries through middleware.
import type { EntityManager } from '@mikro-orm/core';
import type { Config } from '../../config/schema.ts';
import type { Database } from '../db/database.ts';
import type { IUser } from '../identity/entities.ts';
import type { Logger } from '../logging.ts';
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
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    em: EntityManager;
    user: IUser | undefined;
    sessionToken: string | undefined;
  };
}
