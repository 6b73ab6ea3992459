// The service contract: how a connector (Dropbox, Salesforce, …) reads a SaaS account into backup
// snapshots and writes items back. Airbyte/Singer-like: a settings schema that becomes the connect
// form, a connection check, discovery of the entities to back up (users, team folders, objects),
// and per entity a backup run that streams items into a snapshot writer and returns new opaque
// state. The kernel owns everything around it: the job, the repository and its lock, the
// snapshot commit, and storing the state — which happens only after the snapshot is committed,
// so a run that fails or is cancelled leaves the previous state (and snapshot) in force.
import type { ZodType } from 'zod';
import type { NewItem } from '../../storage/snapshot-writer.ts';
import type { Logger } from '../logging.ts';

/** The logger a plugin is handed (pino's), so plugins need not import the kernel's logging. */
export type { Logger };

/** Something the service holds that is backed up on its own: a user's mailbox, a team folder, an object type. */
export interface DiscoveredEntity {
  /** Stable id at the service; snapshots are filed under it. */
  externalId: string;
  name: string;
  /** One of the plugin's `entityKinds`. */
  kind: string;
  /**
   * Listed by the service but not readable now (a suspended user): the kernel shows it
   * Unavailable with `reason`, neither activates nor backs it up (no failed run), keeps its
   * earlier snapshots restorable, and returns it to its previous status once it is listed without.
   */
  unavailable?: { reason: string };
}

export interface EntityRef {
  externalId: string;
  name: string;
  kind: string;
}

/** An item of the previous snapshot as a plugin sees it: what it stored, without the content. */
export interface PreviousItem {
  key: string;
  kind: string;
  size: number;
  meta?: Record<string, unknown>;
}

/**
 * Where a backup run puts items. Nothing is visible until the kernel commits the snapshot. The
 * calls may overlap (a plugin downloading several files at once); for one key the last call made
 * wins. The kernel provides every method on every run.
 */
export interface BackupItemWriter {
  /** The previous snapshot exists, so carryOver() may be used. */
  readonly hasParent: boolean;
  /** Adds or replaces an item; content is chunked, deduplicated and uploaded as it streams. */
  add(item: NewItem, content?: AsyncIterable<Uint8Array> | Uint8Array): Promise<void>;
  /** Keeps the previous snapshot's item as it was without reading it again (unchanged at the source). */
  carryOver(key: string): Promise<void>;
  /** The item is gone from the source (incremental plugins; full ones simply do not add it). */
  delete(key: string): Promise<void>;
  /**
   * The previous snapshot's item at `key` (undefined without one): lets a plugin compare what it
   * stored (a revision, a content hash in `meta`) with the source before reading content again.
   */
  previous(key: string): Promise<PreviousItem | undefined>;
  /** Every item of the previous snapshot in key order (none without one). */
  previousItems(): AsyncIterable<PreviousItem>;
  /**
   * Adds `item` with the content of the previous snapshot's item at `from` — a file moved,
   * copied or otherwise known (by the service's content hash) to hold content already stored —
   * without reading it again. Throws when the previous snapshot has no item `from`.
   */
  addFromPrevious(item: NewItem, from: string): Promise<void>;
}

export interface BackupRun<State = unknown> {
  entity: EntityRef;
  /** What the last committed backup of this entity returned; undefined on the first run. */
  state: State | undefined;
  writer: BackupItemWriter;
  /** Aborted when the job is cancelled, loses its claim, or the appliance stops: stop soon and throw. */
  signal: AbortSignal;
  /** Names what the run is doing now ("listing files"); shown with the job's progress. */
  step(text: string): void;
  /** Share of the service's API quota the task may use (1–100), where the service has one. */
  apiUsageLimitPercent: number | null;
  log: Logger;
}

export interface BackupOutcome<State = unknown> {
  /** Stored after the snapshot commits and handed to the next run (cursors, ETags, revision ids). */
  state: State;
  /** Items that could not be read; the run still commits and is reported as partial. */
  failedItems?: { key: string; reason: string }[];
  /**
   * The run stopped early on purpose (an API budget reached) and commits what it read: reported
   * as partial with this sentence; the next run continues from the returned state.
   */
  partialReason?: string;
  /**
   * Who made the changes this run saw, per user of the service (its user id), where the service
   * tells: records added, updated and deleted. Smart alert rules "by one user" read it; changes
   * whose author is unknown are left out. Absent: such rules never fire for this service.
   */
  changesBy?: { user: string; added: number; updated: number; deleted: number }[];
  /** Calls made to the service's API in this run, where it counts them (the usage report). */
  apiCalls?: number;
}

/** One item handed to `restore()`: what the snapshot holds for it, and its content on demand. */
export interface RestoreItem {
  key: string;
  kind: string;
  /** Content size in bytes. */
  size: number;
  meta?: Record<string, unknown>;
  /** The item's content, read from the repository as it is consumed (each call opens a new stream). */
  content: () => NodeJS.ReadableStream;
}

/**
 * How restored items land at the destination:
 * - 'non_destructive': into a new folder (`RestoreRun.folderName`, "Restored <date>") beside the
 *   originals; nothing existing is touched;
 * - 'in_place': to the items' original places; an existing item is kept and the restored one is
 *   added next to it (a copy), never overwritten, unless the service defines otherwise.
 */
export type RestoreMode = 'non_destructive' | 'in_place';

export interface RestoreRun {
  /** Whose backup the items come from. */
  entity: EntityRef;
  /**
   * Where they go: the same entity, another entity of the same task, or (plugins with
   * `restoreToOtherTasks`) the same entity of another task, whose connection this is.
   */
  destination: EntityRef;
  mode: RestoreMode;
  /** For 'non_destructive': the folder to create and restore into ("Restored 2026-11-22 08:15 UTC"). */
  folderName: string;
  /**
   * Items to write back, in repository (pack) order, so reading them is sequential. Consume each
   * item's content before asking for the next one; items not wanted may be skipped unread.
   */
  items: AsyncIterable<RestoreItem>;
  /**
   * The plugin's `restoreOptions` as chosen in the restore dialog or the API, parsed by its schema
   * ({} when the plugin declares none).
   */
  options: Record<string, unknown>;
  /**
   * Another entity's backup of the same task at the same point in time: its snapshot of the same
   * backup round (the jobs queued together), else the one nearest in time between the restored
   * snapshot's neighbours, else the latest before it (undefined when it has none). For restores
   * that cross entities: an Account's Contacts are items of the Contact entity.
   */
  related(externalId: string): Promise<RelatedSnapshot | undefined>;
  /** The task's share of the service's API quota (1–100), as for backups. */
  apiUsageLimitPercent: number | null;
  /**
   * A folder of this run's own under the data folder for temporary files (a spool of records, a
   * report written as it grows), deleted when the job ends — after an attachment in it is kept.
   * A plan gets one too (removed when the plan is made). Absent where the caller has no data
   * folder (plugins then use the system's temporary folder).
   */
  workDir?: string;
  /** Aborted when the job is cancelled, loses its claim, or the appliance stops: stop soon and throw. */
  signal: AbortSignal;
  step(text: string): void;
  log: Logger;
  /**
   * Durable undo steps for changes the restore makes at the service that must not outlive it
   * (automation switched off, users activated). Register one BEFORE making the change; clear it
   * once the change is undone. Whatever is still registered when the run ends (success, failure,
   * cancel) or when the appliance starts again after dying mid-run is handed to the plugin's
   * `recover()`.
   */
  recovery: RecoverySteps;
}

/** Where a restore registers its pending recovery steps (see `ServicePlugin.recover`). */
export interface RecoverySteps {
  /** Stores the step durably (JSON, no secrets) and returns a handle to clear it. */
  register(payload: Record<string, unknown>): Promise<RecoveryHandle>;
}

export interface RecoveryHandle {
  /** The change is undone: the step is deleted and will not run. */
  clear(): Promise<void>;
}

/** A read-only view of another entity's snapshot (see `RestoreRun.related`). */
export interface RelatedSnapshot {
  entity: EntityRef;
  /** When that snapshot was taken (ISO 8601). */
  time: string;
  /** One item, or undefined when the snapshot has no such key. */
  get(key: string): Promise<RestoreItem | undefined>;
  /** Every item in key order; content is read only when asked for. */
  items(): AsyncIterable<RestoreItem>;
}

/** What a restore will do, before it starts: rows the restore dialog shows as a table. */
export interface RestorePlan {
  /** Column headings, e.g. ["Object", "Records", "Action"]. */
  columns: string[];
  rows: (string | number)[][];
  /** Sentences under the table (the target, the API calls it will take against the budget left). */
  notes: string[];
}

/** What `plan()` is given: the restore's source, destination, selection and options, no writes. */
export type RestorePlanRun = Omit<RestoreRun, 'folderName' | 'step' | 'recovery'>;

/** A written file the job keeps for download next to its result (a per-item report). */
export interface JobAttachment {
  /** Offered under this name ("restore-report.csv"). */
  fileName: string;
  contentType: string;
  /** The bytes, or a file the plugin wrote in its `workDir` (streamed into the kept zip, not read into memory). */
  content: string | Uint8Array | { path: string };
}

export interface RestoreOutcome {
  /** Items written to the service. */
  restored: number;
  /** Items deliberately left alone (e.g. already present and identical). */
  skipped?: number;
  /** Items that could not be written; the job ends Partially succeeded (or Failed if none was restored). */
  failedItems?: { key: string; reason: string }[];
  /**
   * How many items failed in all, when `failedItems` names only the first of them (a large
   * restore's attachment lists every one); absent: `failedItems` is the whole list.
   */
  failedCount?: number;
  /** Counts shown on the job card beside restored/skipped/failed ("created": 12, "updated": 3). */
  counts?: Record<string, number>;
  /** A report kept with the job for download (72 hours, like an export). */
  attachment?: JobAttachment;
}

/**
 * One item of an export's selection as `ServicePlugin.exportArchive` sees it: what the snapshot
 * holds for it, and its content on demand.
 */
export interface ExportItem {
  key: string;
  kind: string;
  /** Content size in bytes. */
  size: number;
  meta?: Record<string, unknown>;
  /**
   * Opens the item's content, authenticated as it is read; undefined when the repository holds it
   * damaged (the kernel leaves it out, names it in the job's log and ends the job Partially
   * succeeded). Consume each stream before opening the next.
   */
  open(): Promise<NodeJS.ReadableStream | undefined>;
}

/** One file of the export archive, as a plugin shapes it. */
export interface ExportEntry {
  /**
   * Its path in the archive, folders separated by "/" ("Account.csv", "files/068…/Price list.csv").
   * The kernel keeps names as they are where the format can hold them and lists the ones it had to
   * change (holdfast-renamed-entries.json), as for item-per-file exports.
   */
  path: string;
  /** The bytes, streamed: the kernel consumes them before asking for the next entry. */
  content: AsyncIterable<Uint8Array | string> | Uint8Array | string;
  /** Bytes, when known before the content is read; without it the kernel measures the content. */
  size?: number;
  /** The entry's time (default: the snapshot's time). */
  mtime?: Date;
}

/** What `ServicePlugin.exportArchive` is handed for one export job. */
export interface ExportArchiveRun {
  /** Whose backup is exported. */
  entity: EntityRef;
  /** When the chosen snapshot was taken. */
  snapshotTime: Date;
  /**
   * The selected items of the chosen snapshot. Every call reads the selection again (in batches in
   * repository order), so a plugin that needs two passes (a CSV's header before its rows, records
   * before their files) calls it twice; memory holds one batch of entries, never the snapshot.
   */
  items(): AsyncIterable<ExportItem>;
  /**
   * One item of the chosen snapshot by key, selected or not (a file's record, for its name; a
   * selected record's file), and whether the selection holds it (so `items()` yields it too).
   */
  item(key: string): Promise<(ExportItem & { selected: boolean }) | undefined>;
  /**
   * Items of the selection that earlier snapshots of the entity hold and the chosen one does not
   * (deleted at the source since, or left out by a full backup), each in the latest version backed
   * up, in key order. Reading it walks every earlier snapshot's item list: call it only when the
   * user asked for deleted items.
   */
  deletedItems(): AsyncIterable<ExportItem>;
  /** The export dialog's choices, parsed by the plugin's `exportOptions` ({} without one). */
  options: Record<string, unknown>;
  /** Aborted when the job is cancelled, loses its claim, or the appliance stops: stop soon and throw. */
  signal: AbortSignal;
  step(text: string): void;
  log: Logger;
}

export type CheckResult = { ok: true; account?: string } | { ok: false; reason: string };

/** An authenticated session with one account at the service. */
export interface ServiceConnection<State = unknown> {
  /** Proves the credentials still work ("Connected" / "Disconnected" on the task). */
  check(signal: AbortSignal): Promise<CheckResult>;
  /** Every entity the account has now; ones no longer listed become Archived. */
  discover(signal: AbortSignal): AsyncIterable<DiscoveredEntity>;
  backup(run: BackupRun<State>): Promise<BackupOutcome<State>>;
  /** Writes items back to the service (see RestoreRun); absent when the service cannot restore. */
  restore?(run: RestoreRun): Promise<RestoreOutcome>;
  /**
   * What a restore would do, shown in the restore dialog before it starts (objects, counts, the
   * API calls it will take). Reads only; absent when the service has nothing to add.
   */
  plan?(run: RestorePlanRun): Promise<RestorePlan>;
  close?(): Promise<void>;
}

/**
 * Appliance-wide settings of a connector, the same for every task: the app registered at the
 * service (OAuth client id and secret), an API base to use instead of the service's (tests, demos).
 * The plugin declares them (`appSettings`); the kernel reads them from the environment or the
 * configuration file by the names declared and passes them to `configure` at start and in every
 * job worker, keyed by each setting's `name` (unset ones are undefined).
 */
export type ServiceAppSettings = Readonly<Record<string, string | undefined>>;

/** One appliance-wide setting a plugin declares; README.md's configuration table lists the built-in ones. */
export interface ServiceAppSettingSpec {
  /** The key `configure` receives it under, e.g. `appKey`. */
  name: string;
  /** The environment variable, e.g. `HOLDFAST_DROPBOX_APP_KEY` (must start with `HOLDFAST_`). */
  env: string;
  /** The key in the JSON file named by HOLDFAST_CONFIG, e.g. `dropboxAppKey`. */
  configKey: string;
  /** `secret`: never echoed in a configuration problem; `url`: an http(s) URL, trailing slashes removed. */
  kind: 'string' | 'secret' | 'url';
  /** What happens when it is unset, for the configuration table. */
  defaultText: string;
  /**
   * Tasks cannot be connected without it (an OAuth app's id and secret): while one is unset, the
   * add-task page says so up front, naming what to set (and the redirect URI, for OAuth).
   */
  required?: boolean;
  description: string;
}

/** What the admin chose before the service's sign-in (see `ServiceOAuth.choices`). */
export type OAuthChoices = Readonly<Record<string, unknown>>;

/**
 * Connecting by OAuth 2 (authorization code with PKCE, S256), for services that use it. The
 * kernel's add-task and reconnect flows make the state and the PKCE verifier, send the admin's
 * browser to `authorizationUrl`, and on the redirect back trade the code with `exchangeCode` for
 * the settings the task stores (sealed like any connection; put the tokens in `secretSettings`).
 *
 * `choices`, when present, is asked on the add-task page before the redirect (a zod object of
 * scalar fields, like `settings`: an environment, a sign-in host). The kernel validates it, keeps
 * the parsed values in its sealed state cookie and hands them to both calls; `exchangeCode`
 * returns them as part of the settings, so they are stored with the task and fixed afterwards:
 * re-authenticating passes the stored ones (`choices.parse` of the task’s settings) again. The
 * kernel always passes `choices` ({} when the plugin declares none).
 */
export interface ServiceOAuth<Settings> {
  choices?: ZodType<Record<string, unknown>>;
  authorizationUrl(input: {
    redirectUri: string;
    state: string;
    codeChallenge: string;
    choices?: OAuthChoices;
  }): string;
  /** Throws ServiceAuthError when the service refuses the code (expired, used, wrong verifier). */
  exchangeCode(
    input: { code: string; redirectUri: string; codeVerifier: string; choices?: OAuthChoices },
    context: { signal: AbortSignal; log: Logger },
  ): Promise<Settings>;
}

/**
 * The catalog's columns: `name` and `path` (shown, browsed and found by words; a path's folders
 * make the Recovery tree), `author` (who made the item; found by words too), `editor` (who last
 * changed it; found by "contains") and `modified` (a date).
 */
export const CATALOG_COLUMNS = ['name', 'path', 'author', 'editor', 'modified'] as const;
export type CatalogColumn = (typeof CATALOG_COLUMNS)[number];

/**
 * One of the service's item fields that the catalog keeps and Recovery searches: the `meta` key
 * holding it, the label Recovery shows, and the catalog column it goes to (each column at most
 * once). `modified` takes an ISO date string or epoch milliseconds. Without a `path` field an
 * item's path is its key; without a `name` field, the last segment of its path.
 */
export interface SearchField {
  name: string;
  label: string;
  column: CatalogColumn;
}

/** What is wrong with a plugin's search fields, in one sentence, or undefined when nothing is. */
export function searchFieldsProblem(kind: string, fields: readonly SearchField[]): string | undefined {
  const seen = new Map<string, string>();
  for (const field of fields) {
    if (!(CATALOG_COLUMNS as readonly string[]).includes(field.column)) {
      const columns = `${CATALOG_COLUMNS.slice(0, -1).join(', ')} or ${CATALOG_COLUMNS.at(-1)}`;
      return `plugin "${kind}": search field "${field.name}" must name its catalog column: ${columns}`;
    }
    const before = seen.get(field.column);
    if (before !== undefined) {
      return `plugin "${kind}": search fields "${before}" and "${field.name}" both fill the catalog column "${field.column}"`;
    }
    seen.set(field.column, field.name);
  }
  return undefined;
}

/** One labelled value of an item's content, as Recovery's item view lists it (a record's field). */
export interface ItemField {
  label: string;
  value: string;
}

/** Content larger than this is not handed to `ItemPresentation.fields` (the view says so). */
export const ITEM_FIELDS_MAX_BYTES = 1024 * 1024;

/**
 * How Recovery presents a service's items; every part is optional and without it Recovery shows
 * folders and files (the `path` column's segments make the tree), as for Dropbox.
 */
export interface ItemPresentation {
  /**
   * 'folders' (default): a snapshot is browsed as the folder tree of its items' paths. 'list':
   * its items are listed flat, by name, paged, each opening the item view — for items whose path
   * names no folder (the records of one object).
   */
  listing?: 'folders' | 'list';
  /**
   * What an item's key is called ("Record ID"): a column of the 'list' view, and Recovery offers a
   * search by exact keys under this label. Absent: keys are neither shown nor searched.
   */
  keyLabel?: string;
  /**
   * The item's content as labelled fields (a record's field names and values), shown by
   * Recovery's item view; undefined for items that have none (a file). Gets at most
   * ITEM_FIELDS_MAX_BYTES of content; must not throw on content it cannot read (return undefined).
   */
  fields?(
    item: { key: string; kind: string; meta?: Record<string, unknown> },
    content: Uint8Array,
  ): ItemField[] | undefined;
  /**
   * Field labels (of `fields`) a compare of two snapshots leaves out: bookkeeping that changes
   * whenever anything does (who and when last touched a record), not the data compared.
   */
  compareIgnoredFields?: readonly string[];
}

/** A hash computed over content as it streams by (a service's own content hash). */
export interface ContentDigest {
  update(data: Uint8Array): void;
  /** The hash in the form the service records it. */
  digest(): string;
}

/**
 * What a service plugin module default-exports. `settings` validates the connect form (and
 * generates it); the names in `secretSettings` are encrypted at rest and never shown again.
 */
export interface ServicePlugin<Settings = unknown, State = unknown> {
  kind: string;
  label: string;
  settings: ZodType<Settings>;
  secretSettings: readonly string[];
  /** Kinds of entity discovered, e.g. [{kind: 'user', label: 'Users'}, {kind: 'team_folder', …}]. */
  entityKinds: readonly { kind: string; label: string }[];
  /**
   * Options of a restore (a zod object of scalar fields, like `settings`): the restore dialog
   * shows them through the form generator, the API takes them as `options`, the kernel validates
   * them before the job starts and hands the parsed values to `restore()` as `run.options`.
   */
  restoreOptions?: ZodType<Record<string, unknown>>;
  /**
   * The restore methods the service offers (default both). With one, the restore dialog asks
   * nothing and uses it, and a request for another is refused: records restore in place only.
   */
  restoreModes?: readonly RestoreMode[];
  /**
   * Restores may go to the same entity of another task of this service in the organization
   * (another Salesforce org: a Sandbox): the restore dialog offers them, and the job connects
   * with the destination task's credentials and API budget, reading the source task's backup.
   */
  restoreToOtherTasks?: boolean;
  /**
   * `false` when items restore only to the entity they came from (records to their object): the
   * dialog offers no other entity of the task, and a request naming one is refused. Default true.
   */
  restoreToOtherEntities?: boolean;
  /**
   * A Replicate form on the task page (Salesforce's seed 6.3): a whole backup round copied into
   * another task's account (a Sandbox) as the kernel's restore job. Needs `restoreToOtherTasks`.
   */
  replicate?: ReplicateSpec;
  /**
   * The task offers smart alerts: rules on the records added, updated or deleted per run, checked
   * by the kernel after each backup (core/smart-alerts/). Suits services whose items are records.
   */
  smartAlerts?: boolean;
  /** Whether the task offers the "API usage limit %" setting. */
  apiUsageLimit: boolean;
  /**
   * How snapshots are written: 'full' (every run adds or carries over every item) or
   * 'incremental' (items not mentioned stay; delete() removes). `layered` suits record
   * collections where few of many rows change per run (see storage/snapshot-writer.ts).
   */
  snapshots: { mode: 'full' | 'incremental'; layered?: boolean };
  searchFields: readonly SearchField[];
  /** How Recovery lists and shows the items (absent: folders and files). */
  presentation?: ItemPresentation;
  /**
   * The item metadata field where the service's own hash of a file's content is kept, and how to
   * compute that hash: a restore drill checks the content it restored against it.
   */
  contentHash?: { field: string; create(): ContentDigest };
  /**
   * The service treats paths that differ only in case as the same ("/Docs" is "/DOCS"), as
   * Dropbox does: browsing and selecting folders for restore or export then ignore case.
   */
  pathsCaseInsensitive?: boolean;
  /**
   * Choices the export dialog and the API offer for this service's exports (a zod object of
   * scalar fields, generated into the form like `settings`: `.describe('Label (hint)')`, booleans
   * as checkboxes, enums as selects). Validated when the export starts (field errors on the form,
   * 422 in the API); the parsed values reach `exportArchive` as `run.options`.
   */
  exportOptions?: ZodType<Record<string, unknown>>;
  /**
   * Shapes how an export's items become archive entries (one CSV per object, files in folders, a
   * package). Yields the entries one at a time, streaming their content; the kernel writes them into
   * the ZIP or TAR, encrypts and stores it as for any export. Without it every item is one file at
   * its path. Runs without a connection to the service: everything comes from the snapshot.
   */
  exportArchive?(run: ExportArchiveRun): AsyncIterable<ExportEntry>;
  /** Opens a connection; throws ServiceAuthError when the credentials are refused. */
  connect(settings: Settings, context: { signal: AbortSignal; log: Logger }): Promise<ServiceConnection<State>>;
  /** The connector's appliance-wide settings (OAuth client id and secret…), read from the configuration by these names. */
  appSettings?: readonly ServiceAppSettingSpec[];
  /** Receives the values of `appSettings` (see ServiceAppSettings). */
  configure?(app: ServiceAppSettings): void;
  /** Present when tasks connect through the service's OAuth pages instead of a settings form. */
  oauth?: ServiceOAuth<Settings>;
  /**
   * The account (tenant, team, org) that settings reach. When present, re-authenticating a task
   * must reach the same account: its entities' ids and its snapshots belong to that one.
   */
  accountOf?(settings: Settings): { id: string; label: string };
  /**
   * Settings made once per task that stay with it when it is connected again and the new
   * connection does not set them (e.g. a key the task's data is transformed with across runs).
   */
  keptOnReconnect?: readonly string[];
  /**
   * Runs one pending recovery step a restore registered (`RestoreRun.recovery`) with a connection
   * of the same task: at the end of the restore job whatever its outcome, and at the next start
   * of the appliance when the job died with it. Must be idempotent (it may run again after a
   * failure or a crash half-way); throw when it could not be done: the step stays pending, is
   * retried at each later start and each failure is written to System Activity.
   */
  recover?(
    connection: ServiceConnection<State>,
    payload: Record<string, unknown>,
    context: { signal: AbortSignal; log: Logger },
  ): Promise<void>;
}

/** The service refused the credentials: the task shows Disconnected until re-authenticated. */
export class ServiceAuthError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceAuthError';
  }
}

/** Worth retrying later (network, throttling, a 5xx): the job is retried with backoff. */
export class TransientServiceError extends Error {
  /** The service asked to wait this long (a Retry-After), if it said. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransientServiceError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * The task page's Replicate form. The kernel offers the backup times of `anchorEntity` and the
 * organization's other tasks of the service, renders `form` through the form generator, and starts
 * the restore job on the anchor entity's snapshot (every item) to the same entity of the chosen
 * task with `form`'s parsed output as the restore options (which `restoreOptions` parses again).
 */
export interface ReplicateSpec {
  /** The entity (externalId) whose snapshot stands for the backup round: the job's entity. */
  anchorEntity: string;
  /** One paragraph under the page title. */
  description: string;
  /** Scalar fields only (the form generator's); its output is the restore options. */
  form: ZodType<Record<string, unknown>>;
  /** Why a task cannot be the target, from its connection settings (null: it can). */
  targetProblem?(settings: unknown): string | null;
  /** A CSV the page offers for download (Salesforce: the anonymization template). */
  download?: { label: string; fileName: string; header: readonly string[]; rows(): readonly (readonly string[])[] };
}
