// Restoring metadata components (an entity of kind `metadata`: Apex classes, triggers, flows,
// layouts, profiles, …): one Metadata API deploy of a zip built from the stored files (package.xml
// listing the members, each file in its folder as the retrieve gave it), check-only first so that
// nothing changes unless every component passes; a failure is named per component in the job log
// and as failed items (the component's files), and nothing is deployed. Then the real deploy.
// A deploy is all or nothing (rollbackOnError), so one bad component holds back the others: the
// report says which one.
import type { RestoreItem, RestoreOutcome, RestoreRun } from '../../../core/plugins/service.ts';
import { type ComponentProblem, type DeployMember, deployPackage, deployProblems } from './deploy.ts';
import { API_VERSION, type SalesforceApi } from './session.ts';

const META_SUFFIX = '-meta.xml';

async function bytes(item: RestoreItem): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of item.content()) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** A validation rules file (objects/Account.object) deploys each rule inside it as a member. */
function ruleMembers(file: string, content: Buffer): DeployMember[] {
  const object = /^objects\/(.+)\.object$/.exec(file)?.[1];
  if (!object) return [];
  return [...content.toString('utf8').matchAll(/<validationRules>[\s\S]*?<fullName>\s*([^<]+?)\s*<\/fullName>/g)].map(
    (m) => ({ type: 'ValidationRule', fullName: `${object}.${m[1]}` }),
  );
}

export async function restoreMetadata(api: SalesforceApi, run: RestoreRun, pollMs = 2000): Promise<RestoreOutcome> {
  const files = new Map<string, Buffer>();
  const members: (DeployMember & { file: string })[] = [];
  /** Component file → the keys of its items (file and -meta.xml), for the report. */
  const keysOf = new Map<string, string[]>();
  run.step('reading the components');
  for await (const item of run.items) {
    const data = await bytes(item);
    files.set(item.key, data);
    const file = item.key.endsWith(META_SUFFIX) ? item.key.slice(0, -META_SUFFIX.length) : item.key;
    keysOf.set(file, [...(keysOf.get(file) ?? []), item.key]);
    if (item.kind !== 'component') continue;
    const type = String(item.meta?.object ?? '');
    const name = String(item.meta?.name ?? '');
    if (type === 'ValidationRule') members.push(...ruleMembers(item.key, data).map((m) => ({ ...m, file: item.key })));
    else if (type && name) members.push({ type, fullName: name, file: item.key });
  }
  if (members.length === 0) return { restored: 0 };

  // A component selected without its -meta.xml (an item search hit) cannot be deployed where
  // its type has one: say so before any deploy rather than let Salesforce refuse the package.
  const withoutMeta = members.filter((m) => !files.has(`${m.file}${META_SUFFIX}`));
  if (withoutMeta.length > 0) {
    const described = (await api.call(
      'listing metadata types',
      () => api.conn.metadata.describe(API_VERSION),
      run.signal,
    )) as unknown as { metadataObjects?: { xmlName: string; metaFile: boolean | string }[] };
    const hasMeta = new Set(
      (described.metadataObjects ?? []).filter((o) => String(o.metaFile) === 'true').map((o) => o.xmlName),
    );
    const lacking = withoutMeta.filter((m) => hasMeta.has(m.type));
    if (lacking.length > 0) {
      return refused(
        run,
        lacking.map((m) => ({
          type: m.type,
          fullName: m.fullName,
          fileName: m.file,
          problem: `select ${m.file}${META_SUFFIX} too: Salesforce deploys the component with its metadata file`,
        })),
        keysOf,
        'components were selected without their -meta.xml',
      );
    }
  }
  const label = `${members.length} component${members.length === 1 ? '' : 's'}`;

  run.step(`checking the deploy of ${label} (check-only)`);
  const check = await deployPackage(
    api,
    { members, files },
    {
      checkOnly: true,
      signal: run.signal,
      pollMs,
      what: 'checking the metadata deploy',
    },
  );
  if (!check.success)
    return refused(run, check.failures, keysOf, `the check-only deploy failed: ${deployProblems(check)}`);
  run.log.info({ components: members.length, deploy: check.id }, 'Salesforce metadata deploy checked');

  run.step(`deploying ${label}`);
  const deployed = await deployPackage(
    api,
    { members, files },
    {
      checkOnly: false,
      signal: run.signal,
      pollMs,
      what: 'deploying metadata',
    },
  );
  if (!deployed.success)
    return refused(run, deployed.failures, keysOf, `the deploy failed: ${deployProblems(deployed)}`);
  run.log.info({ components: members.length, deploy: deployed.id }, 'Salesforce metadata deployed');
  return { restored: members.length };
}

/** Nothing was deployed: each failing component with its problem, the others held back by it. */
function refused(
  run: RestoreRun,
  failures: ComponentProblem[],
  keysOf: Map<string, string[]>,
  summary: string,
): RestoreOutcome {
  run.log.warn({ failures: failures.length }, `Salesforce metadata not deployed: ${summary}`);
  const failedItems: { key: string; reason: string }[] = [];
  const named = new Set<string>();
  for (const f of failures) {
    const keys = keysOf.get(f.fileName) ?? [f.fileName || `${f.type}:${f.fullName}`];
    for (const key of keys) {
      named.add(key);
      failedItems.push({ key, reason: `${f.type} ${f.fullName}: ${f.problem}` });
    }
  }
  for (const keys of keysOf.values()) {
    for (const key of keys) {
      if (!named.has(key)) {
        failedItems.push({ key, reason: 'not deployed: a deploy is all or nothing and other components failed' });
      }
    }
  }
  return { restored: 0, failedItems };
}
