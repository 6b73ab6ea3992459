// "Disable triggers in restore": the active Apex triggers, validation rules and record-triggered
// flows of the objects a restore writes are switched off through the Metadata API for the
// restore, and exactly those switched back on afterwards — whatever the restore's outcome, and
// even when the appliance dies under it: before anything is switched off, the components' own
// files (as retrieved) are registered as a recovery step with the kernel (`run.recovery`), whose
// `recover()` deploys them back (see connection.ts). Inactive versions:
// - ApexTrigger: the same code, its -meta.xml with <status>Inactive</status>;
// - ValidationRule: <active>false</active> (in its object's file, objects/Account.object);
// - Flow (record-triggered: <start><object> with a Record…Save trigger type): <status>Draft</status>
//   (API 44.0 and later activate and deactivate flows through the Flow's status; FlowDefinition
//   is not used).
// Workflow rules and processes of Process Builder are not switched (retired by Salesforce).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger, RecoverySteps } from '../../../core/plugins/service.ts';
import { type DeployMember, type DeployPackage, deployPackage, deployProblems } from './deploy.ts';
import { API_VERSION, type SalesforceApi } from './session.ts';
import { unzip } from './zip.ts';

/** The types switched, and where their files are. */
const TYPES = ['ApexTrigger', 'ValidationRule', 'Flow'] as const;

/** How long switching back on may take (the restore's own signal may be aborted by then). */
const SWITCH_ON_TIMEOUT_MS = 10 * 60_000;

/** One component switched off: its member and its files as they were (base64), to deploy back. */
export interface SwitchedComponent {
  type: (typeof TYPES)[number];
  fullName: string;
  object: string;
  files: Record<string, string>;
}

/** The recovery step's payload: what to deploy back. */
export interface AutomationRecovery {
  action: 'automation-on';
  describe: string;
  components: SwitchedComponent[];
}

interface Context {
  signal: AbortSignal;
  log: Logger;
  step?: (text: string) => void;
  pollMs?: number;
}

interface FileProperties {
  fullName: string;
  fileName: string;
  type: string;
}

const tag = (xml: string, name: string) =>
  new RegExp(`<${name}>\\s*([\\s\\S]*?)\\s*</${name}>`).exec(xml)?.[1]?.trim() ?? undefined;

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

async function retrieveFiles(api: SalesforceApi, members: DeployMember[], ctx: Context): Promise<Map<string, Buffer>> {
  const byType = new Map<string, string[]>();
  for (const m of members) byType.set(m.type, [...(byType.get(m.type) ?? []), m.fullName]);
  const { conn } = api;
  const started = (await api.call(
    'retrieving automation',
    async () =>
      (await conn.metadata.retrieve({
        apiVersion: Number(API_VERSION),
        singlePackage: true,
        unpackaged: { types: [...byType].map(([name, names]) => ({ name, members: names })), version: API_VERSION },
      } as never)) as unknown as { id: string },
    ctx.signal,
  )) as { id: string };
  for (;;) {
    const result = (await api.call(
      'retrieving automation (status)',
      () => conn.metadata.checkRetrieveStatus(started.id),
      ctx.signal,
    )) as unknown as { done: boolean | string; status?: string; zipFile?: string; errorMessage?: string };
    if (result.done === true || result.done === 'true') {
      if (result.status !== 'Succeeded' || !result.zipFile) {
        throw new Error(`Salesforce could not retrieve the automation: ${result.errorMessage ?? result.status}`);
      }
      return unzip(Buffer.from(result.zipFile, 'base64'));
    }
    await sleep(ctx.pollMs ?? 2000, undefined, { signal: ctx.signal });
  }
}

function validationRule(file: string, rule: string): string | undefined {
  return [...file.matchAll(/<validationRules>[\s\S]*?<\/validationRules>/g)]
    .map((m) => m[0])
    .find((b) => tag(b, 'fullName') === rule);
}

/** The active triggers, validation rules and record-triggered flows of the objects, with their files. */
export async function activeAutomation(
  api: SalesforceApi,
  objects: readonly string[],
  ctx: Context,
): Promise<SwitchedComponent[]> {
  const listed = await api.call(
    'listing triggers, validation rules and flows',
    () => api.conn.metadata.list(TYPES.map((type) => ({ type }))),
    ctx.signal,
  );
  const props = (Array.isArray(listed) ? listed : listed ? [listed] : []) as unknown as FileProperties[];
  const wanted = (object: string) => objects.some((o) => same(o, object));
  // Validation rules name their object; triggers and flows say it in their files.
  const candidates = props.filter(
    (p) => p.type !== 'ValidationRule' || wanted(p.fullName.split('.')[0] as string),
  ) as (FileProperties & { type: SwitchedComponent['type'] })[];
  if (candidates.length === 0) return [];
  const files = await retrieveFiles(
    api,
    candidates.map((c) => ({ type: c.type, fullName: c.fullName })),
    ctx,
  );
  const text = (name: string) => files.get(name)?.toString('utf8');
  const found: SwitchedComponent[] = [];
  for (const c of candidates) {
    const body = text(c.fileName);
    if (body === undefined) continue;
    if (c.type === 'ApexTrigger') {
      const object = /trigger\s+\w+\s+on\s+(\w+)/i.exec(body)?.[1];
      const meta = text(`${c.fileName}-meta.xml`);
      if (!object || !wanted(object) || meta === undefined || tag(meta, 'status') !== 'Active') continue;
      found.push({
        type: c.type,
        fullName: c.fullName,
        object,
        files: {
          [c.fileName]: Buffer.from(body).toString('base64'),
          [`${c.fileName}-meta.xml`]: Buffer.from(meta).toString('base64'),
        },
      });
    } else if (c.type === 'ValidationRule') {
      const [object, rule] = [c.fullName.split('.')[0] as string, c.fullName.split('.').slice(1).join('.')];
      const block = validationRule(body, rule);
      if (!block || tag(block, 'active') !== 'true') continue;
      found.push({
        type: c.type,
        fullName: c.fullName,
        object,
        files: { [c.fileName]: Buffer.from(body).toString('base64') },
      });
    } else {
      const start = tag(body, 'start') ?? '';
      const object = tag(start, 'object');
      const trigger = tag(start, 'triggerType') ?? '';
      if (!object || !wanted(object) || !/^Record\w*Save$/.test(trigger) || tag(body, 'status') !== 'Active') continue;
      found.push({
        type: c.type,
        fullName: c.fullName,
        object,
        files: { [c.fileName]: Buffer.from(body).toString('base64') },
      });
    }
  }
  return found;
}

/** The package that deploys the components as they were (on) or their inactive versions (off). */
export function automationPackage(components: readonly SwitchedComponent[], on: boolean): DeployPackage {
  const files = new Map<string, Buffer>();
  const rulesByFile = new Map<string, string[]>();
  for (const c of components) {
    for (const [name, b64] of Object.entries(c.files)) {
      let content = Buffer.from(b64, 'base64').toString('utf8');
      if (c.type === 'ValidationRule') {
        // Only the rules switched go in their object's file, so no other rule is touched.
        const rule = validationRule(content, c.fullName.split('.').slice(1).join('.')) ?? '';
        const block = on ? rule : rule.replace(/<active>\s*true\s*<\/active>/, '<active>false</active>');
        rulesByFile.set(name, [...(rulesByFile.get(name) ?? []), block]);
        continue;
      }
      if (!on && c.type === 'ApexTrigger' && name.endsWith('-meta.xml')) {
        content = content.replace(/<status>\s*Active\s*<\/status>/, '<status>Inactive</status>');
      }
      if (!on && c.type === 'Flow')
        content = content.replace(/<status>\s*Active\s*<\/status>/, '<status>Draft</status>');
      files.set(name, Buffer.from(content));
    }
  }
  for (const [name, blocks] of rulesByFile) {
    files.set(
      name,
      Buffer.from(
        `<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n${blocks.join('\n')}\n</CustomObject>\n`,
      ),
    );
  }
  return { members: components.map((c) => ({ type: c.type, fullName: c.fullName })), files };
}

function names(components: readonly SwitchedComponent[]): string {
  return components.map((c) => `${c.type} ${c.fullName}`).join(', ');
}

/** Deploys the components as they were: switches them back on. Throws when Salesforce refuses. */
export async function switchAutomationOn(
  api: SalesforceApi,
  components: readonly SwitchedComponent[],
  ctx: Context,
): Promise<void> {
  if (components.length === 0) return;
  const outcome = await deployPackage(api, automationPackage(components, true), {
    checkOnly: false,
    signal: ctx.signal,
    pollMs: ctx.pollMs ?? 2000,
    what: 'switching automation back on',
  });
  if (!outcome.success) {
    throw new Error(
      `Salesforce refused to switch automation back on (${names(components)}): ${deployProblems(outcome)}`,
    );
  }
  ctx.log.info({ components: names(components) }, 'Salesforce automation switched back on');
}

/**
 * Runs `fn` with the objects' active automation switched off, and switches exactly that back on
 * afterwards, whatever `fn` does. The recovery step is registered before anything is switched
 * off and cleared only once everything is back on; if switching back on fails here, the step
 * stays and the kernel tries again (at the job's end, then at each start).
 */
export async function withAutomationOff<T>(
  api: SalesforceApi,
  objects: readonly string[],
  recovery: RecoverySteps,
  ctx: Context,
  fn: () => Promise<T>,
): Promise<T> {
  ctx.step?.('looking for active triggers, validation rules and flows');
  const active = await activeAutomation(api, objects, ctx);
  if (active.length === 0) {
    ctx.log.info({ objects }, 'Salesforce automation: nothing active to switch off on these objects');
    return fn();
  }
  const payload: AutomationRecovery = {
    action: 'automation-on',
    describe: `switch back on ${names(active)}`.slice(0, 300),
    components: active,
  };
  const handle = await recovery.register(payload as unknown as Record<string, unknown>);
  let result: T | undefined;
  let failure: unknown;
  // Once the switch-off deploy is sent, it may have happened even if we never hear back.
  let sent = false;
  try {
    ctx.step?.(`switching off ${active.length} trigger(s), validation rule(s) and flow(s)`);
    sent = true;
    const outcome = await deployPackage(api, automationPackage(active, false), {
      checkOnly: false,
      signal: ctx.signal,
      pollMs: ctx.pollMs ?? 2000,
      what: 'switching automation off',
    });
    if (!outcome.success) {
      sent = false; // all or nothing: refused means nothing changed
      throw new Error(`Salesforce refused to switch automation off for the restore: ${deployProblems(outcome)}`);
    }
    ctx.log.info({ components: names(active) }, 'Salesforce automation switched off for the restore');
    result = await fn();
  } catch (err) {
    failure = err;
  }
  // Back on with a signal of its own: the restore's may be aborted (a cancel).
  try {
    ctx.step?.('switching triggers, validation rules and flows back on');
    if (sent) await switchAutomationOn(api, active, { ...ctx, signal: AbortSignal.timeout(SWITCH_ON_TIMEOUT_MS) });
    await handle.clear();
  } catch (err) {
    // The step stays registered: the kernel tries again at the job's end, then at each start,
    // and says so in the job log and System Activity. The restore's own outcome stands.
    ctx.log.warn(
      { err: (err as Error).message },
      'Salesforce automation not switched back on yet: the appliance tries again (the job end, then each start)',
    );
  }
  if (failure !== undefined) throw failure;
  return result as T;
}
