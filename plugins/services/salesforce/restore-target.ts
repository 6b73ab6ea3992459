// The org a restore writes to, as the planner sees it: objects' describes (cached; one call each),
// the objects' key prefixes (describeGlobal, plus those learnt from the backup's own ids, since a
// custom object's prefix differs between orgs) and which ids live there (SELECT Id … WHERE Id IN).
import { ServiceAuthError, TransientServiceError } from '../../../core/plugins/service.ts';
import type { RestoreTarget } from './restore-gather.ts';
import { type KeyField, matchKey, soqlLiteral } from './restore-match.ts';
import type { FieldInfo, ObjectInfo } from './restore-plan.ts';
import { BudgetExhausted, type SalesforceApi } from './session.ts';

/** Ids per liveness query: 200 quoted ids keep the query URL well under Salesforce's limit. */
const IDS_PER_QUERY = 200;

interface DescribeField extends Partial<FieldInfo> {
  name: string;
  type: string;
}

export class SalesforceTarget implements RestoreTarget {
  readonly #api: SalesforceApi;
  readonly #signal: AbortSignal;
  readonly #describes = new Map<string, Promise<ObjectInfo | undefined>>();
  #global: Promise<Map<string, { createable: boolean; keyPrefix: string | null }>> | undefined;
  /** Key prefix → object, from the target's describeGlobal and from the backup's ids. */
  readonly prefixes = new Map<string, string>();

  constructor(api: SalesforceApi, signal: AbortSignal) {
    this.#api = api;
    this.#signal = signal;
  }

  /** Notes the object a backed-up id belongs to (its prefix names that object from now on). */
  learn(object: string, id: string): void {
    this.prefixes.set(id.slice(0, 3), object);
  }

  async #globals() {
    this.#global ??= this.#api
      .call('listing objects', () => this.#api.conn.describeGlobal(), this.#signal)
      .then((g) => {
        const map = new Map<string, { createable: boolean; keyPrefix: string | null }>();
        for (const o of g.sobjects) {
          map.set(o.name, { createable: o.createable, keyPrefix: o.keyPrefix ?? null });
          if (o.keyPrefix && !this.prefixes.has(o.keyPrefix)) this.prefixes.set(o.keyPrefix, o.name);
        }
        return map;
      });
    return this.#global;
  }

  async info(object: string): Promise<ObjectInfo | undefined> {
    let found = this.#describes.get(object);
    if (!found) {
      found = this.#describe(object);
      this.#describes.set(object, found);
    }
    return found;
  }

  async #describe(object: string): Promise<ObjectInfo | undefined> {
    const global = (await this.#globals()).get(object);
    if (!global) return undefined;
    const d = (await this.#api.call(
      `describe ${object}`,
      () => this.#api.conn.sobject(object).describe(),
      this.#signal,
    )) as unknown as {
      fields: DescribeField[];
      childRelationships?: { childSObject: string; field: string; cascadeDelete?: boolean }[];
    };
    return {
      name: object,
      keyPrefix: global.keyPrefix,
      createable: global.createable,
      fields: d.fields.map((f) => ({
        name: f.name,
        type: f.type,
        createable: !!f.createable,
        updateable: !!f.updateable,
        calculated: !!f.calculated,
        nillable: f.nillable !== false,
        defaultedOnCreate: !!f.defaultedOnCreate,
        referenceTo: f.referenceTo ?? [],
        relationshipName: f.relationshipName ?? null,
        cascadeDelete: !!f.cascadeDelete,
        ...(f.length ? { length: f.length } : {}),
        ...(f.externalId ? { externalId: true } : {}),
        ...(f.unique ? { unique: true } : {}),
      })),
      children: (d.childRelationships ?? []).map((c) => ({
        object: c.childSObject,
        field: c.field,
        cascadeDelete: !!c.cascadeDelete,
      })),
    };
  }

  /** The createable objects of the target org (a Full Organization replicate's list). */
  async objects(): Promise<string[]> {
    return [...(await this.#globals())].filter(([, g]) => g.createable).map(([name]) => name);
  }

  objectOf(id: string, candidates: readonly string[]): string | undefined {
    if (candidates.length === 1) return candidates[0];
    const object = this.prefixes.get(id.slice(0, 3));
    return object && candidates.includes(object) ? object : undefined;
  }

  /** Of these values of a field, the id of the live record at the target holding each (by `matchKey`). */
  async holding(object: string, field: KeyField, values: readonly unknown[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let i = 0; i < values.length; i += IDS_PER_QUERY) {
      const chunk = values.slice(i, i + IDS_PER_QUERY);
      const literals = chunk.map((v) => soqlLiteral(field.type, v)).join(',');
      const rows = await this.#api.call(
        `matching ${object} records by ${field.name}`,
        async () =>
          (await this.#api.conn.query(
            `SELECT Id, ${field.name} FROM ${object} WHERE ${field.name} IN (${literals})`,
          )) as unknown as {
            records: Record<string, unknown>[];
          },
        this.#signal,
      );
      for (const row of rows.records) {
        const key = matchKey(field.type, row[field.name]);
        if (key !== undefined) found.set(key, String(row.Id));
      }
    }
    return found;
  }

  async live(object: string, ids: readonly string[]): Promise<Set<string>> {
    await this.#globals();
    const found = new Set<string>();
    const valid = ids.filter((id) => /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(id));
    for (let i = 0; i < valid.length; i += IDS_PER_QUERY) {
      const chunk = valid.slice(i, i + IDS_PER_QUERY);
      const soql = `SELECT Id FROM ${object} WHERE Id IN (${chunk.map((id) => `'${id}'`).join(',')})`;
      try {
        const rows = await this.#api.call(
          `looking up ${object} records`,
          async () => (await this.#api.conn.query(soql)) as unknown as { records: { Id: string }[] },
          this.#signal,
        );
        for (const row of rows.records) found.add(row.Id);
      } catch (err) {
        if (
          err instanceof BudgetExhausted ||
          err instanceof ServiceAuthError ||
          err instanceof TransientServiceError ||
          (err as Error).name === 'AbortError'
        ) {
          throw err;
        }
        // An object the target cannot query (another org without it): none of them lives there.
      }
    }
    return found;
  }
}
