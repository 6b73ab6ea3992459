// Replay protection for SAML assertions: an assertion may sign someone in once. Its ID (scoped
// by the IdP that issued it) is remembered until it expires; a second use inside that time is a
// replay, and after it the assertion is refused as expired anyway — so the rows can go.
//
// The database store claims an ID with one atomic statement (insert, or take over a row that has
// already expired), so two appliance processes given the same assertion at once cannot both
// succeed. Plain SQL that SQLite and PostgreSQL both run; dates are bound as Date (run-sql.ts).
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { runSql } from '../../../db/run-sql.ts';

export interface SamlReplayStore {
  /**
   * Records the first use of an assertion, to be remembered until `until`. False when it was
   * already used and has not expired: a replay.
   */
  claim(issuer: string, assertionId: string, until: Date, now: Date): Promise<boolean>;
}

export function assertionKey(issuer: string, assertionId: string): string {
  return createHash('sha256').update(issuer).update('\0').update(assertionId).digest('hex');
}

const CLAIM_SQL = `insert into saml_assertion_uses (key, expires_at) values (?, ?)
  on conflict (key) do update set expires_at = excluded.expires_at
  where saml_assertion_uses.expires_at <= ?
  returning key`;

/** The replay store of the appliance, in its database. */
export function databaseReplayStore(em: EntityManager): SamlReplayStore {
  return {
    async claim(issuer, assertionId, until, now) {
      const rows = await runSql(em.fork(), CLAIM_SQL, [assertionKey(issuer, assertionId), until, now]);
      return rows.length > 0;
    },
  };
}

/** Deletes the records of assertions that have expired (hourly maintenance). */
export async function pruneSamlAssertionUses(em: EntityManager, now: Date): Promise<number> {
  const rows = await runSql<{ key: string }[]>(
    em.fork(),
    'delete from saml_assertion_uses where expires_at <= ? returning key',
    [now],
  );
  return rows.length;
}
