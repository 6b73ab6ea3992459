// Whether an object's describe may have changed since the run that last read it, without
// describing every object again: one conditional describeGlobal (If-Modified-Since) answers for
// every object of the org, and its answer is shared by the jobs of that org for a few minutes (one
// job backs up one object, so a task's run is many jobs). Salesforce answers 304 when no object's
// metadata changed since the date — not after org-wide changes either (permissions, profiles,
// labels): then each object asks its own conditional describe (a third call that run).
import type { SalesforceApi } from './session.ts';

/** How long (org time) an org's "nothing changed" answer stands for its other objects' jobs. */
export const DESCRIBE_CHECK_TTL_MS = 15 * 60_000;

/** Checks ask from the start of the hour first, so the objects of one run share one answer. */
const BUCKET_MS = 3600_000;

interface Answer {
  /** Asked If-Modified-Since this time (ms). */
  since: number;
  /** The org's clock when it answered. */
  at: number;
  unchanged: boolean;
  /** Asked from an object's own time (not the hour's start). */
  exact: boolean;
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export class DescribeChecks {
  readonly #answers = new Map<string, Answer[]>();
  readonly #asking = new Map<string, Promise<Answer>>();

  /**
   * The org time from which no describe of the org changed after `since`, or undefined when
   * something may have (the object's own describe decides). Answers older than the TTL by the
   * org's clock as this run last saw it are not trusted (none before the run's first answer).
   */
  async unchangedSince(api: SalesforceApi, since: number, signal: AbortSignal): Promise<number | undefined> {
    const org = `${api.conn.instanceUrl} ${api.conn.userInfo?.organizationId ?? ''}`;
    const now = api.knowsServerTime ? api.serverTime : undefined;
    const fresh = (a: Answer) => now !== undefined && now >= a.at && now - a.at < DESCRIBE_CHECK_TTL_MS;
    const known = (this.#answers.get(org) ?? []).filter(fresh);
    this.#answers.set(org, known);
    const unchanged = known.find((a) => a.unchanged && a.since <= since);
    if (unchanged) return unchanged.at;
    // From the start of the hour first (one answer for every object of a run); if the org changed
    // in that hour, once from the object's own time (objects described later reuse a 304); after
    // a second change answer, each object asks its own describe.
    const hour = Math.floor(since / BUCKET_MS) * BUCKET_MS;
    if (!known.some((a) => !a.unchanged && a.since >= hour)) {
      const answer = await this.#ask(api, org, hour, false, signal);
      if (answer.unchanged) return answer.at;
    }
    if (!this.#known(org).some((a) => !a.unchanged && a.exact)) {
      const answer = await this.#ask(api, org, since, true, signal);
      if (answer.unchanged) return answer.at;
    }
    return undefined;
  }

  #known(org: string): Answer[] {
    return this.#answers.get(org) ?? [];
  }

  #ask(api: SalesforceApi, org: string, from: number, exact: boolean, signal: AbortSignal): Promise<Answer> {
    const key = `${org} ${from}`;
    let asking = this.#asking.get(key);
    if (!asking) {
      asking = (async () => {
        await api.call(
          'checking whether object describes changed',
          () => api.conn.request({ method: 'GET', url: '/sobjects', headers: { 'If-Modified-Since': httpDate(from) } }),
          signal,
        );
        const answer = { since: from, at: api.serverTime, unchanged: api.status === 304, exact };
        this.#answers.set(org, [...this.#known(org), answer]);
        return answer;
      })().finally(() => this.#asking.delete(key));
      this.#asking.set(key, asking);
    }
    return asking;
  }
}

/** The answers every connection of this appliance shares. */
export const describeChecks = new DescribeChecks();
