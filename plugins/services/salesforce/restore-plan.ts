// Planning a record restore, free of I/O: what happens to each record (create, update, skip) by
// the restore mode and what lives at the target, the order objects are inserted in (parents
// before children, from the relationship graph), and each record's body with its lookups
// remapped: to the new id of a restored parent, kept when the referenced record lives at the
// target, deferred when the parent is created later (a self-lookup, a cycle: set by an update
// afterwards), or left empty with a note when it exists nowhere.

/** What a describe says about a field, as far as restoring goes. */
export interface FieldInfo {
  name: string;
  type: string;
  createable: boolean;
  updateable: boolean;
  calculated: boolean;
  nillable: boolean;
  defaultedOnCreate: boolean;
  referenceTo: string[];
  relationshipName: string | null;
  cascadeDelete: boolean;
  /** Maximum characters of a text field (describe `length`), when known. */
  length?: number | undefined;
  /** Marked External ID, or unique: records at the target are matched by it (restore-match). */
  externalId?: boolean;
  unique?: boolean;
}

export interface ObjectInfo {
  name: string;
  keyPrefix: string | null;
  createable: boolean;
  fields: FieldInfo[];
  /** Objects that look up to this one (describe's childRelationships). */
  children: { object: string; field: string; cascadeDelete: boolean }[];
}

/** A record from the backup, with why it is restored. */
export interface SourceRecord {
  object: string;
  id: string;
  values: Record<string, unknown>;
  /** 0: chosen; n: a child n levels down; -1: a parent a required lookup needs. */
  depth: number;
}

export const RECORD_MODES = ['overwrite', 'bypass', 'duplicate'] as const;
export type RecordMode = (typeof RECORD_MODES)[number];

export type Action = 'create' | 'update' | 'skip';

/** A required lookup cannot be left empty: the record cannot be saved without it. */
export function isRequiredLookup(f: FieldInfo): boolean {
  return f.type === 'reference' && !f.nillable && f.createable && !f.defaultedOnCreate;
}

/** Fields the restore writes: not system, formula, read-only or blob fields. */
export function writable(f: FieldInfo, forUpdate: boolean): boolean {
  if (f.calculated || f.type === 'base64' || f.type === 'id' || f.type === 'address' || f.type === 'location') {
    return false;
  }
  return forUpdate ? f.updateable : f.createable;
}

/**
 * Per record: Overwrite updates records that live at the target and creates the others; Bypass
 * leaves live ones untouched; Duplicate creates a copy of every record. A record that does not
 * live at the target (deleted, or another org) is always created as a new one.
 */
export function actionOf(mode: RecordMode, live: boolean): Action {
  if (!live || mode === 'duplicate') return 'create';
  return mode === 'overwrite' ? 'update' : 'skip';
}

/**
 * The objects in insert order: an object after every object it looks up to among those restored
 * (self-lookups aside). A cycle is broken at its optional lookups (those records are created
 * without the back-reference, then updated); required lookups are kept in order where possible.
 */
export function insertOrder(objects: readonly string[], info: (name: string) => ObjectInfo | undefined): string[] {
  const set = new Set(objects);
  const edges = (optional: boolean) => {
    const parents = new Map<string, Set<string>>();
    for (const name of objects) {
      const mine = new Set<string>();
      for (const f of info(name)?.fields ?? []) {
        if (f.type !== 'reference' || !f.createable) continue;
        if (!optional && !isRequiredLookup(f)) continue;
        for (const target of f.referenceTo) if (target !== name && set.has(target)) mine.add(target);
      }
      parents.set(name, mine);
    }
    return parents;
  };
  const all = edges(true);
  const required = edges(false);
  const order: string[] = [];
  const placed = new Set<string>();
  const remaining = [...objects].sort();
  while (remaining.length) {
    // Ready: every parent placed. Stuck: drop optional lookups, then anything, to go on.
    let next = remaining.find((o) => [...(all.get(o) ?? [])].every((p) => placed.has(p)));
    next ??= remaining.find((o) => [...(required.get(o) ?? [])].every((p) => placed.has(p)));
    next ??= remaining[0] as string;
    order.push(next);
    placed.add(next);
    remaining.splice(remaining.indexOf(next), 1);
  }
  return order;
}

/** Where a lookup's value goes. */
export interface LookupTargets {
  /** Source id → id at the target of a record restored so far. */
  remapped: { get(id: string): string | undefined };
  /** Ids in the restore that are still to be created. */
  pending: { has(id: string): boolean };
  /** Ids that live at the target now. */
  live: { has(id: string): boolean };
}

export interface Body {
  values: Record<string, unknown>;
  /** Lookups left out for now: set by an update once their record exists. */
  deferred: { field: string; id: string }[];
  /** Lookups left empty: what they referred to exists nowhere. */
  emptied: { field: string; id: string }[];
}

/** A lookup's value at the target, or how it is handled. */
export function mapLookup(id: string, targets: LookupTargets): { to: string } | { defer: true } | { empty: true } {
  const mapped = targets.remapped.get(id);
  if (mapped) return { to: mapped };
  if (targets.pending.has(id)) return { defer: true };
  if (targets.live.has(id)) return { to: id };
  return { empty: true };
}

/**
 * The record's fields as the target takes them: writable fields only, lookups mapped. On create,
 * empty values are left out (the target's defaults apply); Duplicate adds `suffix` to the name.
 */
export function recordBody(
  object: ObjectInfo,
  values: Record<string, unknown>,
  targets: LookupTargets,
  options: { forUpdate: boolean; suffix?: string },
): Body {
  const body: Body = { values: {}, deferred: [], emptied: [] };
  for (const f of object.fields) {
    if (!writable(f, options.forUpdate) || !(f.name in values)) continue;
    const value = values[f.name];
    if (f.type !== 'reference' || typeof value !== 'string' || value === '') {
      if (value === null && !options.forUpdate) continue;
      body.values[f.name] = value;
      continue;
    }
    const mapped = mapLookup(value, targets);
    if ('to' in mapped) body.values[f.name] = mapped.to;
    else if ('defer' in mapped) body.deferred.push({ field: f.name, id: value });
    else {
      body.emptied.push({ field: f.name, id: value });
      if (options.forUpdate) body.values[f.name] = null;
    }
  }
  if (options.suffix) {
    const name = nameField(object);
    const current = name ? body.values[name] : undefined;
    if (name && typeof current === 'string') body.values[name] = `${current} ${options.suffix}`;
  }
  return body;
}

/** The field a record is known by (Name, Subject, Title), if the object has a writable one. */
export function nameField(object: ObjectInfo): string | undefined {
  for (const candidate of ['Name', 'Subject', 'Title']) {
    const f = object.fields.find((x) => x.name === candidate);
    if (f?.createable && f.type !== 'reference') return f.name;
  }
  return undefined;
}

/** Duplicate's suffix: the restore's start as yyyymmddhhmmss (UTC), as the seed's example. */
export function duplicateSuffix(at: Date): string {
  return at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Sobject Collections take at most 200 records a call. */
export const COLLECTION_SIZE = 200;

/**
 * Above this many records of one object to insert (or update), a Bulk API 2.0 job is used: 2,000
 * records are 10 collection calls; a job is about 6 calls plus a few status checks, and its
 * records count against the Bulk API's own daily allowance, not the request budget.
 */
export const BULK_WRITE_THRESHOLD = 2_000;

/** A job's calls when it completes at the first status check (create, upload, close, check, 2 results). */
export const BULK_JOB_CALLS = 6;

/** Records per job: the CSV upload stays a few MB, well under the API's 100 MB per job. */
export const BULK_JOB_MAX = 10_000;

export interface PlanCounts {
  object: string;
  records: number;
  create: number;
  update: number;
  skip: number;
}

/** Records per object and what happens to them, in insert order; `skipped` are skips whatever the mode. */
export function planCounts(
  records: readonly SourceRecord[],
  order: readonly string[],
  live: { has(id: string): boolean },
  mode: RecordMode,
  skipped: { has(id: string): boolean } = new Set(),
  /** Counts to add to (a restore plans its records a page at a time). */
  into?: PlanCounts[],
): PlanCounts[] {
  const by = new Map<string, PlanCounts>(
    into
      ? into.map((c) => [c.object, c])
      : order.map((o) => [o, { object: o, records: 0, create: 0, update: 0, skip: 0 }]),
  );
  for (const r of records) {
    const row = by.get(r.object);
    if (!row) continue;
    row.records++;
    row[skipped.has(r.id) ? 'skip' : actionOf(mode, live.has(r.id))]++;
  }
  return [...by.values()];
}

/**
 * API calls the writes take at most: creates and updates in collections of 200 per object, and
 * one update collection per object whose records may have deferred lookups (self-lookups, cycles).
 */
export function writeCalls(counts: readonly PlanCounts[], deferredObjects: number): number {
  let calls = deferredObjects;
  // As restore-write sends them: a Bulk API job per 10,000 past the threshold, else collections.
  const of = (n: number) =>
    n > BULK_WRITE_THRESHOLD ? Math.ceil(n / BULK_JOB_MAX) * BULK_JOB_CALLS : Math.ceil(n / COLLECTION_SIZE);
  for (const c of counts) calls += of(c.create) + of(c.update);
  return calls;
}
