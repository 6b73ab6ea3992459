// A record restore's working set on disk, not in memory: a temporary SQLite database (in the
// job's work folder under the data folder) holding each gathered record (id, object, depth and
// its backed-up fields as JSON), which ids live at the target, the source → target id map and the
// report rows. Gathering, matching, writing and the report read it a page at a time, so the
// process holds at most a page of records whatever the restore's size; the database is deleted
// when the restore ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Action, SourceRecord } from './restore-plan.ts';
import type { ReportRow, Result } from './restore-write.ts';

/** Records read into memory at once (one Bulk API job's worth; tests lower it). */
export const RESTORE_PAGE = 10_000;

/** Figures of the last restore that ran in this process (the streaming test and the bench read them). */
export const lastRestoreStats = { pageSize: 0, peakRecordsHeld: 0, records: 0, spoolFile: '', spoolBytes: 0 };

/** A record as the store hands it back: its row id orders pages. */
export interface StoredRecord extends SourceRecord {
  seq: number;
}

/** A set of ids answered by the store (lookup targets, parents of a child pass). */
export interface IdSet {
  has(id: string): boolean;
}

/** The source → target id map of the restore. */
export interface IdMap {
  get(id: string): string | undefined;
  set(id: string, to: string): void;
}

export interface StoredRow extends ReportRow {
  seq: number;
  deferred: { field: string; id: string }[];
}

const FILE_FIELDS = (r: SourceRecord) => {
  const v = r.values;
  const doc = typeof v.ContentDocumentId === 'string' && v.ContentDocumentId ? v.ContentDocumentId : null;
  if (r.object === 'ContentVersion') {
    const first = typeof v.FirstPublishLocationId === 'string' ? v.FirstPublishLocationId : null;
    return { doc, latest: v.IsLatest === false ? 0 : 1, entity: first };
  }
  if (r.object === 'ContentDocumentLink') {
    return { doc, latest: 0, entity: typeof v.LinkedEntityId === 'string' ? v.LinkedEntityId : null };
  }
  return { doc: null, latest: 0, entity: null };
};

export class RestoreStore {
  readonly db: Database.Database;
  readonly file: string;
  readonly pageSize: number;
  #folder: string | undefined;
  #held = 0;
  readonly #st: Record<string, Database.Statement>;

  /** In `workDir` (a folder of the job's, under the data folder), else in a temporary folder of the system's. */
  constructor(options: { workDir?: string | undefined; pageSize?: number | undefined; memory?: boolean } = {}) {
    this.pageSize = Math.max(1, options.pageSize ?? RESTORE_PAGE);
    if (options.memory) this.file = ':memory:';
    else {
      this.#folder = mkdtempSync(join(options.workDir ?? tmpdir(), 'salesforce-restore-'));
      this.file = join(this.#folder, 'restore.sqlite');
    }
    this.db = new Database(this.file);
    // A scratch file of one connection, deleted afterwards: no journal, no syncs, no lock per
    // statement, and one transaction for its whole life (a statement's own transaction would
    // write its pages to the file each time: ~0.8 ms an insert).
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.pragma('locking_mode = EXCLUSIVE');
    // Pages of the database in memory: a bounded cache (negative = KiB), the rest stays on disk.
    this.db.pragma('cache_size = -16000');
    this.db.exec(`
      create table rec (seq integer primary key, id text not null unique, object text not null,
        depth integer not null, round integer not null default 0, vals text not null,
        doc text, latest integer not null default 0, entity text);
      create index rec_object on rec (object, seq);
      create index rec_depth on rec (depth, object);
      create index rec_round on rec (round);
      create index rec_doc on rec (doc) where doc is not null;
      create table live (id text primary key) without rowid;
      create table remap (src text primary key, dst text not null) without rowid;
      create table matched (src text primary key, dst text not null unique) without rowid;
      create table pending_ask (object text not null, id text not null, primary key (object, id)) without rowid;
      create table row (seq integer primary key, id text not null unique, object text not null,
        target_id text, action text not null, result text not null, error_code text not null default '',
        message text not null default '', notes text not null default '', pending integer not null default 0,
        deferred text);
      create index row_object on row (object, seq);
      create index row_pending on row (object, pending, seq);
    `);
    const sql = {
      add: `insert or ignore into rec (id, object, depth, round, vals, doc, latest, entity) values (?, ?, ?, ?, ?, ?, ?, ?)`,
      has: `select 1 from rec where id = ?`,
      at: `select object from rec where id = ? and depth = ?`,
      values: `select object, depth, vals from rec where id = ?`,
      isLive: `select 1 from live where id = ?`,
      addLive: `insert or ignore into live (id) values (?)`,
      remapGet: `select dst from remap where src = ?`,
      remapSet: `insert or replace into remap (src, dst) values (?, ?)`,
      matchedGet: `select dst from matched where src = ?`,
      takenHas: `select 1 from matched where dst = ? union all select 1 from live where id = ? limit 1`,
      addMatched: `insert or ignore into matched (src, dst) values (?, ?)`,
      ask: `insert or ignore into pending_ask (object, id) values (?, ?)`,
      addRow: `insert into row (id, object, target_id, action, result, error_code, message, notes, pending) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      isPending: `select 1 from row where id = ? and pending = 1`,
      getRow: `select * from row where id = ?`,
      putRow: `update row set target_id = ?, action = ?, result = ?, error_code = ?, message = ?, notes = ?, pending = ?, deferred = ? where id = ?`,
    };
    this.#st = Object.fromEntries(Object.entries(sql).map(([k, v]) => [k, this.db.prepare(v)]));
    this.db.exec('begin');
    lastRestoreStats.pageSize = this.pageSize;
    lastRestoreStats.peakRecordsHeld = 0;
    lastRestoreStats.records = 0;
    lastRestoreStats.spoolFile = this.file;
    lastRestoreStats.spoolBytes = 0;
  }

  /** Deletes the database and its folder. */
  close(): void {
    // The database's size in pages (some may still be in the cache only, not yet in the file).
    if (this.#folder) {
      lastRestoreStats.spoolBytes =
        Number(this.db.pragma('page_count', { simple: true })) * Number(this.db.pragma('page_size', { simple: true }));
    }
    this.db.close();
    if (this.#folder) rmSync(this.#folder, { recursive: true, force: true });
  }

  /** Adds a gathered record; false when it is in the restore already. */
  add(r: SourceRecord, round = 0): boolean {
    const f = FILE_FIELDS(r);
    const added =
      this.#st.add?.run(r.id, r.object, r.depth, round, JSON.stringify(r.values), f.doc, f.latest, f.entity).changes ===
      1;
    if (added) lastRestoreStats.records++;
    return added;
  }

  has(id: string): boolean {
    return !!this.#st.has?.get(id);
  }

  /** The object of a record gathered at this depth, if it is one. */
  objectAt(id: string, depth: number): string | undefined {
    return (this.#st.at?.get(id, depth) as { object: string } | undefined)?.object;
  }

  record(id: string): SourceRecord | undefined {
    const row = this.#st.values?.get(id) as { object: string; depth: number; vals: string } | undefined;
    return row ? { object: row.object, id, depth: row.depth, values: JSON.parse(row.vals) } : undefined;
  }

  count(where = '1', ...params: unknown[]): number {
    return (this.db.prepare(`select count(*) as n from rec where ${where}`).get(...params) as { n: number }).n;
  }

  /** Objects of the gathered records (optionally at one depth). */
  objects(depth?: number): string[] {
    const rows =
      depth === undefined
        ? this.db.prepare('select distinct object from rec order by object').all()
        : this.db.prepare('select distinct object from rec where depth = ? order by object').all(depth);
    return (rows as { object: string }[]).map((r) => r.object);
  }

  /**
   * The records matching `where`, a page at a time in gathering order; each page is parsed when
   * asked for, and counted as held until the next one is asked for.
   */
  *pages(where: string, ...params: unknown[]): Generator<StoredRecord[]> {
    const stmt = this.db.prepare(
      `select seq, id, object, depth, vals from rec where (${where}) and seq > ? order by seq limit ?`,
    );
    let after = 0;
    try {
      for (;;) {
        const rows = stmt.all(...params, after, this.pageSize) as {
          seq: number;
          id: string;
          object: string;
          depth: number;
          vals: string;
        }[];
        if (!rows.length) return;
        after = rows[rows.length - 1]?.seq ?? after;
        const page = rows.map((r) => ({
          seq: r.seq,
          id: r.id,
          object: r.object,
          depth: r.depth,
          values: JSON.parse(r.vals) as Record<string, unknown>,
        }));
        this.hold(page.length);
        yield page;
        this.hold(-page.length);
      }
    } finally {
      this.#held = 0;
    }
  }

  /** Counts records a caller holds in memory (the streaming property's observable). */
  hold(n: number): void {
    this.#held += n;
    if (this.#held > lastRestoreStats.peakRecordsHeld) lastRestoreStats.peakRecordsHeld = this.#held;
  }

  /** Ids living at the target (asked of it, or matched there by a unique field). */
  readonly live: IdSet & { add(id: string): void } = {
    has: (id) => !!this.#st.isLive?.get(id),
    add: (id) => {
      this.#st.addLive?.run(id);
    },
  };

  readonly remapped: IdMap = {
    get: (id) => (this.#st.remapGet?.get(id) as { dst: string } | undefined)?.dst,
    set: (id, to) => {
      this.#st.remapSet?.run(id, to);
    },
  };

  /** Records matched at the target by a unique field: source id → target id. */
  readonly matched: IdMap = {
    get: (id) => (this.#st.matchedGet?.get(id) as { dst: string } | undefined)?.dst,
    set: (id, to) => {
      this.#st.addMatched?.run(id, to);
    },
  };

  /** Target ids standing for a restored record already: live by Id, or matched. */
  readonly taken: IdSet = { has: (id) => !!this.#st.takenHas?.get(id, id) };

  readonly pending: IdSet = { has: (id) => !!this.#st.isPending?.get(id) };

  matchedCount(): number {
    return (this.db.prepare('select count(*) as n from matched').get() as { n: number }).n;
  }

  /** Queues an id to ask the target about (`drainAsks`). */
  ask(object: string, id: string): void {
    this.#st.ask?.run(object, id);
  }

  /** The queued ids, an object and a page at a time, removed as they are handed out. */
  *drainAsks(): Generator<[string, string[]]> {
    const next = this.db.prepare('select object from pending_ask limit 1');
    const page = this.db.prepare('select id from pending_ask where object = ? limit ?');
    const drop = this.db.prepare('delete from pending_ask where object = ? and id = ?');
    for (;;) {
      const first = next.get() as { object: string } | undefined;
      if (!first) return;
      const ids = (page.all(first.object, this.pageSize) as { id: string }[]).map((r) => r.id);
      this.db.transaction(() => {
        for (const id of ids) drop.run(first.object, id);
      })();
      yield [first.object, ids];
    }
  }

  addRow(r: ReportRow, pending: boolean): void {
    this.#st.addRow?.run(
      r.sourceId,
      r.object,
      r.targetId,
      r.action,
      r.result,
      r.errorCode,
      r.message,
      r.notes.join('\n'),
      pending ? 1 : 0,
    );
  }

  row(id: string): StoredRow {
    const r = this.#st.getRow?.get(id) as RawRow | undefined;
    if (!r) throw new Error(`no report row for ${id}`);
    return fromRaw(r);
  }

  putRow(r: StoredRow, pending = false): void {
    this.#st.putRow?.run(
      r.targetId,
      r.action,
      r.result,
      r.errorCode,
      r.message,
      r.notes.join('\n'),
      pending ? 1 : 0,
      r.deferred.length ? JSON.stringify(r.deferred) : null,
      r.sourceId,
    );
  }

  /** Report rows matching `where`, a page at a time in report order. */
  *rowPages(where: string, ...params: unknown[]): Generator<StoredRow[]> {
    const stmt = this.db.prepare(`select * from row where (${where}) and seq > ? order by seq limit ?`);
    let after = 0;
    for (;;) {
      const rows = (stmt.all(...params, after, this.pageSize) as RawRow[]).map(fromRaw);
      if (!rows.length) return;
      after = rows[rows.length - 1]?.seq ?? after;
      yield rows;
    }
  }

  counts(): Record<Result, number> {
    const counts = { created: 0, updated: 0, skipped: 0, failed: 0 };
    for (const r of this.db.prepare('select result, count(*) as n from row group by result').all() as {
      result: Result;
      n: number;
    }[])
      counts[r.result] = r.n;
    return counts;
  }
}

interface RawRow {
  seq: number;
  id: string;
  object: string;
  target_id: string | null;
  action: Action;
  result: Result;
  error_code: string;
  message: string;
  notes: string;
  deferred: string | null;
}

function fromRaw(r: RawRow): StoredRow {
  return {
    seq: r.seq,
    object: r.object,
    sourceId: r.id,
    targetId: r.target_id,
    action: r.action,
    result: r.result,
    errorCode: r.error_code,
    message: r.message,
    notes: r.notes ? r.notes.split('\n') : [],
    deferred: r.deferred ? (JSON.parse(r.deferred) as StoredRow['deferred']) : [],
  };
}
