// A service plugin for tests: deterministic entities and items, with knobs for everything the
// kernel must cope with — many or few entities, entities that disappear, items that change per
// run, slowness (cancellation points between items), per-item failures (partial runs), failing
// entities, transient errors, refused credentials. Registered only by tests (directly, or through
// HOLDFAST_PLUGINS pointing at this file for an appliance process).
//
// restore() records what it received (`restoredRuns`) and refuses the keys in `failRestoreKeys`.
// With `files: true` it serves the files a test puts in `sourceFiles` instead (counting reads in
// `fileReads`; `holds` pauses reads, `revokedAccounts` refuses credentials): the service
// conformance suite drives it that way (tests/conformance/services-test-service.test.ts).
//
// Item i of an entity has content "<entity>/<i>@v<version>"; a run changes the first
// `changesPerRun` items (their version becomes the run number), adds item `items + run - 1`
// when `growPerRun` is set, and leaves the rest as they were (carried over without reading).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  type BackupOutcome,
  type BackupRun,
  type RestoreOutcome,
  type RestoreRun,
  ServiceAuthError,
  type ServiceConnection,
  type ServicePlugin,
  TransientServiceError,
} from '../../core/plugins/service.ts';

export const TEST_SERVICE_KIND = 'test-service';
export const VALID_TOKEN = 'test-token';

const settings = z.object({
  account: z.string().trim().min(1, { error: 'Enter the account name.' }),
  token: z.string().min(1, { error: 'Enter the token.' }),
  entities: z.number().int().min(0).default(3),
  /** External ids the service no longer lists (deleted at the source). */
  removed: z.array(z.string()).default([]),
  /** External ids the service lists but cannot be read now (suspended), with the reason it gives. */
  unavailable: z.record(z.string(), z.string()).default({}),
  items: z.number().int().min(0).default(5),
  itemBytes: z.number().int().min(1).default(64),
  changesPerRun: z.number().int().min(0).default(1),
  /** Pause before each item: makes runs slow enough to cancel or kill. */
  itemDelayMs: z.number().int().min(0).default(0),
  /** Items (the last N) that cannot be read: the run is partial. */
  failItems: z.number().int().min(0).default(0),
  /** Every run ends early on purpose with this reason (a budget reached): the run is partial. */
  stopEarly: z.string().optional(),
  /** Entities whose backup ends the thread it runs in (`process.exit(1)`): worker-thread tests only. */
  exitEntities: z.array(z.string()).default([]),
  /** Entities whose backup fails for good. */
  failEntities: z.array(z.string()).default([]),
  /** The first N runs of each entity fail with a transient error (counted per process). */
  transientFailures: z.number().int().min(0).default(0),
  /** Item keys restore() refuses (the restore is partial). */
  failRestoreKeys: z.array(z.string()).default([]),
  /** Pause before each restored item: makes restores slow enough to cancel. */
  restoreDelayMs: z.number().int().min(0).default(0),
  /** Serve the files tests put in `sourceFiles` for the account instead of generated items. */
  files: z.boolean().default(false),
});
export type TestServiceSettings = z.output<typeof settings>;
export type TestServiceInput = z.input<typeof settings>;

export interface TestServiceState {
  run: number;
  versions: number[];
  /** Files mode: each file's content hash at the last run (unchanged ones are carried over). */
  files?: Record<string, string>;
}

/** When item i last changed at the test service (its `changed` metadata): 1 January 2026 + i days. */
export function changedAt(i: number): string {
  return new Date(Date.UTC(2026, 0, 1 + i)).toISOString();
}

export function entityId(n: number): string {
  return `user-${String(n).padStart(3, '0')}`;
}

/** Runs started per account/entity in this process (for transientFailures and assertions). */
export const startedRuns = new Map<string, number>();

/** What one restore() call received, as the service would have written it. */
export interface RecordedRestore {
  entity: string;
  destination: string;
  mode: RestoreRun['mode'];
  folderName: string;
  /** Items written, in the order received, with their content. */
  written: { key: string; kind: string; size: number; path: unknown; content: string }[];
  failed: string[];
}

/** Restores per account, in this process (jobs run inline in tests). */
export const restoredRuns = new Map<string, RecordedRestore[]>();

/** Files mode: account → entity external id → file name → content, as the source holds them now. */
export const sourceFiles = new Map<string, Map<string, Map<string, string>>>();
/** Files mode: contents read per "<account>/<entity>/<name>" (carried-over files are not read). */
export const fileReads = new Map<string, number>();
/** Accounts whose credentials the service now refuses (a revoked token). */
export const revokedAccounts = new Set<string>();
/** Per account: reads wait for this promise (a test holds the source to cancel a run mid-way). */
export const holds = new Map<string, { reached: () => void; released: Promise<void> }>();

function held(account: string, signal: AbortSignal): Promise<void> {
  const hold = holds.get(account);
  if (!hold) return Promise.resolve();
  hold.reached();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    hold.released.then(resolve);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function content(entity: string, index: number, version: number, bytes: number): Uint8Array {
  const text = `${entity}/${index}@v${version};`;
  return Buffer.from(text.repeat(Math.ceil(bytes / text.length)).slice(0, bytes));
}

class TestConnection implements ServiceConnection<TestServiceState> {
  readonly #s: TestServiceSettings;
  constructor(s: TestServiceSettings) {
    this.#s = s;
  }

  async check() {
    return { ok: true as const, account: this.#s.account };
  }

  async *discover(signal: AbortSignal) {
    for (let n = 1; n <= this.#s.entities; n++) {
      signal.throwIfAborted();
      const id = entityId(n);
      if (this.#s.removed.includes(id)) continue;
      // Connections sealed by tests directly may leave the knob out.
      const reason = this.#s.unavailable?.[id];
      yield {
        externalId: id,
        name: `${id}@${this.#s.account}.example`,
        kind: 'user',
        ...(reason ? { unavailable: { reason } } : {}),
      };
    }
  }

  async backup(run: BackupRun<TestServiceState>): Promise<BackupOutcome<TestServiceState>> {
    const s = this.#s;
    const id = run.entity.externalId;
    const key = `${s.account}/${id}`;
    const started = (startedRuns.get(key) ?? 0) + 1;
    startedRuns.set(key, started);
    if (started <= s.transientFailures) throw new TransientServiceError('the test service is throttling (429)');
    if (s.exitEntities?.includes(id)) process.exit(1);
    if (s.failEntities.includes(id)) throw new Error(`the test service cannot read ${id}`);

    if (s.files) return this.#backupFiles(run);
    const previous = run.state;
    const runNumber = (previous?.run ?? 0) + 1;
    const versions: number[] = [];
    const failedItems: { key: string; reason: string }[] = [];
    run.step('reading items');
    for (let i = 0; i < s.items; i++) {
      if (s.itemDelayMs) await sleep(s.itemDelayMs, run.signal);
      run.signal.throwIfAborted();
      const itemKey = `items/${String(i).padStart(5, '0')}`;
      if (i >= s.items - s.failItems) {
        failedItems.push({ key: itemKey, reason: 'the test service answered 500 for this item' });
        versions.push(-1);
        continue;
      }
      const before = previous?.versions[i];
      const changed = before === undefined || before < 0 || i < s.changesPerRun;
      const version = changed ? runNumber : (before as number);
      versions.push(version);
      if (!changed && run.writer.hasParent) {
        await run.writer.carryOver(itemKey);
        continue;
      }
      await run.writer.add(
        {
          key: itemKey,
          kind: 'file',
          // `owner` and `changed` are named unlike the catalog's columns: searchFields map them.
          meta: {
            name: `item ${i}`,
            path: `/${id}/item-${i}.txt`,
            owner: `owner-${i}@test.example`,
            changed: changedAt(i),
            version,
          },
        },
        content(id, i, version, s.itemBytes),
      );
    }
    return {
      state: { run: runNumber, versions },
      ...(failedItems.length ? { failedItems } : {}),
      ...(s.stopEarly ? { partialReason: s.stopEarly } : {}),
    };
  }

  /** Files mode: every file the source holds; unchanged ones (same hash) carried over unread. */
  async #backupFiles(run: BackupRun<TestServiceState>): Promise<BackupOutcome<TestServiceState>> {
    const account = this.#s.account;
    const id = run.entity.externalId;
    const before = run.state?.files ?? {};
    const after: Record<string, string> = {};
    run.step('reading files');
    for (const [name, text] of sourceFiles.get(account)?.get(id) ?? new Map<string, string>()) {
      run.signal.throwIfAborted();
      const key = `files/${name}`;
      const hash = createHash('sha256').update(text).digest('hex');
      after[name] = hash;
      if (run.writer.hasParent && before[name] === hash) {
        await run.writer.carryOver(key);
        continue;
      }
      await held(account, run.signal);
      const read = `${account}/${id}/${name}`;
      fileReads.set(read, (fileReads.get(read) ?? 0) + 1);
      await run.writer.add({ key, kind: 'file', meta: { name, path: `/${name}` } }, Buffer.from(text));
    }
    return { state: { run: (run.state?.run ?? 0) + 1, versions: [], files: after } };
  }

  async restore(run: RestoreRun): Promise<RestoreOutcome> {
    const s = this.#s;
    const record: RecordedRestore = {
      entity: run.entity.externalId,
      destination: run.destination.externalId,
      mode: run.mode,
      folderName: run.folderName,
      written: [],
      failed: [],
    };
    restoredRuns.set(s.account, [...(restoredRuns.get(s.account) ?? []), record]);
    const failedItems: { key: string; reason: string }[] = [];
    run.step('uploading items');
    for await (const item of run.items) {
      if (s.restoreDelayMs) await sleep(s.restoreDelayMs, run.signal);
      run.signal.throwIfAborted();
      if (s.failRestoreKeys.includes(item.key)) {
        // An item the service refuses is skipped unread, as a real connector would after a 4xx.
        record.failed.push(item.key);
        failedItems.push({ key: item.key, reason: 'the test service refused this item (409)' });
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of item.content()) chunks.push(Buffer.from(chunk as Uint8Array));
      record.written.push({
        key: item.key,
        kind: item.kind,
        size: item.size,
        path: item.meta?.path,
        content: Buffer.concat(chunks).toString('utf8'),
      });
    }
    return { restored: record.written.length, ...(failedItems.length ? { failedItems } : {}) };
  }
}

const testServicePlugin: ServicePlugin<TestServiceSettings, TestServiceState> = {
  kind: TEST_SERVICE_KIND,
  label: 'Test service',
  settings: settings as unknown as z.ZodType<TestServiceSettings>,
  secretSettings: ['token'],
  entityKinds: [{ kind: 'user', label: 'Users' }],
  apiUsageLimit: true,
  snapshots: { mode: 'full' },
  searchFields: [
    { name: 'name', label: 'Name', column: 'name' },
    { name: 'path', label: 'Path', column: 'path' },
    { name: 'owner', label: 'Owner', column: 'author' },
    { name: 'changed', label: 'Changed', column: 'modified' },
  ],
  async connect(s) {
    if (s.token !== VALID_TOKEN || revokedAccounts.has(s.account)) {
      throw new ServiceAuthError('The test service refused the token (401).');
    }
    return new TestConnection(s);
  },
};

export default testServicePlugin;
