// The SQL of the per-subtree health counters (`subtree_health`, core/tenancy/entities.ts), one
// text for SQLite and PostgreSQL: both migrations (sqlite/ and postgresql/
// ..._subtree_health) build their triggers from it, and core/tenancy/subtree-health.ts rebuilds
// the rows with it at start. Part of those migrations: change it only together with a new
// migration that drops and recreates the triggers.
//
// A row holds, for an organization's subtree as its `path` defines it (itself and every path
// under its own), the sums of the `account_health` rows (itself included) and the customer
// accounts strictly below it, in all and per backup status (the worst of each customer's own
// results). Each organization contributes its own figures to itself and to its ancestors; the
// triggers move that contribution when it changes:
// - an `account_health` row inserted, changed or deleted: its difference, on the organization and
//   its ancestors (a customer whose worst result changes moves between the status counts);
// - an organization added: its row (zero), and one customer more on its ancestors if it is one;
// - an organization deleted: its own figures off its ancestors, before it goes (its
//   `account_health` row then goes by cascade without counting again);
// - a path or kind changed (no code moves an organization today): the rows of the node and of
//   its old and new ancestors counted again from their ranges.
// The latest run only grows in `account_health`; where it can fall (a row deleted or moved out,
// a run's time set back) the subtree's latest run is taken again from its range.
//
// Ancestors are found from the path (each shorter path that ends with '/'), up to
// MAX_ANCESTOR_LEVELS above a node: root → distributor → partner → customer uses three.
// SQLite allows no `with` in a trigger, so each parent path is the path less its last segment,
// written as `rtrim` of its last '/' and then of the id characters (ids hold [0-9a-zA-Z-] only:
// likeSafePath).

export const MAX_ANCESTOR_LEVELS = 4;

const ID_CHARS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-';

/** The parent path of a path expression ('/a/b/' → '/a/'; '/a/' → '/'). */
function parentPath(path: string): string {
  return `rtrim(rtrim(${path}, '/'), '${ID_CHARS}')`;
}

/** The paths of the ancestors of a path expression, nearest first. */
function ancestorPaths(path: string): string[] {
  const out: string[] = [];
  let current = path;
  for (let i = 0; i < MAX_ANCESTOR_LEVELS; i++) {
    current = parentPath(current);
    out.push(current);
  }
  return out;
}

/** Ids of the ancestors (not itself) of the organization at a path expression. */
function ancestorsOfPath(path: string): string {
  return `select a.id from organizations a where a.path in (${ancestorPaths(path).join(', ')})`;
}

/** Ids of the organization `id` (an expression) and its ancestors, found through its row. */
function selfAndAncestorsOf(id: string): string {
  return `select ${id} union all select a.id from organizations x join organizations a on a.path in (${ancestorPaths('x.path').join(', ')}) where x.id = ${id}`;
}

/** An `account_health` row's worst result: 3 failed, 2 partially failed, 1 successful, 0 none. */
const worst = (h: string) =>
  `case when ${h}.failed > 0 then 3 when ${h}.partial > 0 then 2 when ${h}.success > 0 then 1 else 0 end`;
const oneIf = (condition: string) => `case when ${condition} then 1 else 0 end`;

/** The summed columns of `account_health` and `subtree_health`. */
const SUMS = ['tasks', 'failed', 'partial', 'success', 'protected', 'bytes', 'stored_bytes'] as const;
const STATUS_COUNTS = [
  ['customers_success', 1],
  ['customers_partial', 2],
  ['customers_failed', 3],
] as const;

export const SUBTREE_COLUMNS = [...SUMS, 'last_run_at', 'customers', ...STATUS_COUNTS.map(([c]) => c)] as const;

/** The subtree's latest run, from its range (`excluding` an organization about to go). */
function latestRunOf(id: string, excluding?: string): string {
  return `(select max(h.last_run_at) from organizations s join organizations so on so.path >= s.path and so.path < substr(s.path, 1, length(s.path) - 1) || '0' join account_health h on h.organization_id = so.id where s.id = ${id}${excluding ? ` and so.id <> ${excluding}` : ''})`;
}

/** Every column of the subtree of organization `id` counted from its range, in SUBTREE_COLUMNS order. */
export function countedSubtree(id: string): string {
  return `select ${SUMS.map((c) => `coalesce(sum(h.${c}), 0)`).join(', ')}, max(h.last_run_at),
    coalesce(sum(${oneIf("so.kind = 'customer' and so.id <> s.id")}), 0),
    ${STATUS_COUNTS.map(([, rank]) => `coalesce(sum(${oneIf(`so.kind = 'customer' and so.id <> s.id and ${worst('h')} = ${rank}`)}), 0)`).join(', ')}
  from organizations s join organizations so on so.path >= s.path and so.path < substr(s.path, 1, length(s.path) - 1) || '0'
  left join account_health h on h.organization_id = so.id
  where s.id = ${id}`;
}

/** Recounts the rows whose ids `ids` (a subquery, or `true` for all) selects. */
export function recountRows(ids: string | true): string {
  return `update subtree_health set (${SUBTREE_COLUMNS.join(', ')}) = (${countedSubtree('subtree_health.organization_id')})${ids === true ? '' : ` where organization_id in (${ids})`}`;
}

/** A row for every organization that has none (zeros: recountRows fills it). */
export const ADD_MISSING_ROWS = `insert into subtree_health (organization_id) select o.id from organizations o where not exists (select 1 from subtree_health s where s.organization_id = o.id)`;

/**
 * The statement an `account_health` change runs: `next` and `previous` name the row after and
 * before (NEW / OLD), null for an insert's before or a delete's after.
 */
export function healthChange(next: 'NEW' | null, previous: 'OLD' | null): string {
  const org = `${next ?? previous}.organization_id`;
  const value = (row: string | null, column: string) => (row ? `${row}.${column}` : '0');
  const sums = SUMS.map((c) => `${c} = ${c} + (${value(next, c)} - ${value(previous, c)})`);
  const isCustomer = `(select o.kind from organizations o where o.id = ${org}) = 'customer'`;
  const rankOf = (row: string | null) => (row ? worst(row) : '0');
  const statuses = STATUS_COUNTS.map(
    ([c, rank]) =>
      `${c} = ${c} + case when organization_id <> ${org} and ${isCustomer} then ${oneIf(`${rankOf(next)} = ${rank}`)} - ${oneIf(`${rankOf(previous)} = ${rank}`)} else 0 end`,
  );
  const later = next
    ? `case when ${next}.last_run_at is not null and (last_run_at is null or ${next}.last_run_at > last_run_at) then ${next}.last_run_at else last_run_at end`
    : 'last_run_at';
  // The latest run can only fall when the row's own did (a delete, or a time set back).
  const fell = previous
    ? `${previous}.last_run_at is not null and (${next ? `${next}.last_run_at is null or ${next}.last_run_at < ${previous}.last_run_at` : 'true'})`
    : 'false';
  const lastRun = `last_run_at = case when ${fell} then ${latestRunOf('subtree_health.organization_id')} else ${later} end`;
  return `update subtree_health set ${[...sums, lastRun, ...statuses].join(', ')}
  where organization_id in (${selfAndAncestorsOf(org)})`;
}

/**
 * The statements an added organization runs (NEW): its row, and one customer more above it. A new
 * organization has nothing below it yet (parents come first: the foreign key on parent_id) and no
 * account_health row (that comes with its first task), so its row starts at zero. Not counted
 * from its range: PostgreSQL runs the row triggers of a multi-row insert after the whole
 * statement, when the accounts inserted with it below it would be seen and then added again.
 */
export function organizationAdded(): string[] {
  return [
    `insert into subtree_health (organization_id) values (NEW.id) on conflict (organization_id) do nothing`,
    `update subtree_health set customers = customers + 1 where NEW.kind = 'customer' and organization_id in (${ancestorsOfPath('NEW.path')})`,
  ];
}

/** The statement an organization about to be deleted runs (OLD): its own figures off its ancestors. */
export function organizationDeleted(): string {
  const own = (column: string) =>
    `coalesce((select h.${column} from account_health h where h.organization_id = OLD.id), 0)`;
  const ownWorst = `coalesce((select ${worst('h')} from account_health h where h.organization_id = OLD.id), 0)`;
  const sums = SUMS.map((c) => `${c} = ${c} - ${own(c)}`);
  const customer = `OLD.kind = 'customer'`;
  const statuses = STATUS_COUNTS.map(([c, rank]) => `${c} = ${c} - ${oneIf(`${customer} and ${ownWorst} = ${rank}`)}`);
  const ownLast = `(select h.last_run_at from account_health h where h.organization_id = OLD.id)`;
  const lastRun = `last_run_at = case when ${ownLast} is null then last_run_at else ${latestRunOf('subtree_health.organization_id', 'OLD.id')} end`;
  return `update subtree_health set ${[...sums, lastRun, `customers = customers - ${oneIf(customer)}`, ...statuses].join(', ')}
  where organization_id in (${ancestorsOfPath('OLD.path')})`;
}

/** The statement a changed path or kind runs (OLD, NEW): the node and its old and new ancestors counted again. */
export function organizationMoved(): string {
  return recountRows(`select NEW.id union all ${ancestorsOfPath('OLD.path')} union all ${ancestorsOfPath('NEW.path')}`);
}
