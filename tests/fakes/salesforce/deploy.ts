// Metadata API deploys of the stand-in (SOAP `deploy` with the zip in base64 and DeployOptions,
// `checkDeployStatus` with details): the zip's package.xml names the components, each read from
// its file (an Apex trigger with its -meta.xml, validation rules inside objects/<Object>.object).
// Every component is checked as Salesforce compiles it — its object must exist, and so must the
// fields a trigger, a validation rule's formula or a flow names — and a failure is reported per
// component (componentFailures: type, file, full name, problem). A deploy is all or nothing
// (rollbackOnError, as production requires); a check-only one changes nothing. Deployed
// components then show in listMetadata and retrieve. `hold()` keeps a deploy's answer until
// released (crash and cancel tests); `deploys` records what was asked.
import yauzl from 'yauzl';
import { parseFlow, parseRule, parseTrigger } from './automation.ts';
import { all, envelope, esc, fileName, METADATA_TYPES, type MetadataStore, soapFault, unesc } from './metadata.ts';
import type { Org } from './model.ts';

export interface ComponentMessage {
  componentType: string;
  fullName: string;
  fileName: string;
  problem?: string;
  created?: boolean;
}

export interface DeployRecord {
  id: string;
  checkOnly: boolean;
  /** `Type:FullName` of every member of package.xml. */
  members: string[];
  status: 'Succeeded' | 'Failed';
  failures: ComponentMessage[];
}

interface DeployJob extends DeployRecord {
  org: Org;
  successes: ComponentMessage[];
  checks: number;
}

interface Hold {
  match: (record: { checkOnly: boolean; members: string[] }) => boolean;
  reached: () => void;
  released: Promise<void>;
}

async function unzip(bytes: Buffer): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z as yauzl.ZipFile))),
  );
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName.endsWith('/')) {
        zip.readEntry();
        return;
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) return reject(err);
        const parts: Buffer[] = [];
        stream.on('data', (d: Buffer) => parts.push(d));
        stream.on('end', () => {
          files.set(entry.fileName, Buffer.concat(parts));
          zip.readEntry();
        });
        stream.on('error', reject);
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return files;
}

const bool = (v: boolean) => (v ? 'true' : 'false');

function message(m: ComponentMessage, success: boolean): string {
  return [
    `<changed>${bool(success)}</changed>`,
    '<columnNumber>0</columnNumber>',
    `<componentType>${esc(m.componentType)}</componentType>`,
    `<created>${bool(success && !!m.created)}</created>`,
    '<deleted>false</deleted>',
    `<fileName>${esc(m.fileName)}</fileName>`,
    `<fullName>${esc(m.fullName)}</fullName>`,
    '<lineNumber>0</lineNumber>',
    ...(m.problem ? [`<problem>${esc(m.problem)}</problem>`, '<problemType>Error</problemType>'] : []),
    `<success>${bool(success)}</success>`,
  ].join('');
}

export class DeployApi {
  readonly #jobs = new Map<string, DeployJob>();
  #seq = 0;
  readonly #holds: Hold[] = [];
  /** Every deploy asked, in order. */
  readonly deploys: DeployRecord[] = [];
  /** checkDeployStatus answers InProgress this many times before done. */
  deployChecksInProgress = 0;
  readonly #stalls: { match: Hold['match']; reached: () => void; ids: Set<string>; done: boolean }[] = [];

  /**
   * Deploys that `match` answer InProgress to every status check until `unstall()` (a client
   * polling, to be cancelled): `reached` resolves at the first such check.
   */
  stall(match: Hold['match']): { reached: Promise<void>; unstall: () => void } {
    let reached!: () => void;
    const reachedP = new Promise<void>((r) => {
      reached = r;
    });
    const stall = { match, reached, ids: new Set<string>(), done: false };
    this.#stalls.push(stall);
    return {
      reached: reachedP,
      unstall: () => {
        stall.done = true;
      },
    };
  }

  /**
   * Keeps the answer of the next deploy that `match`es until `release()`: `reached` resolves when
   * it arrives (the client is then waiting on it).
   */
  hold(match: Hold['match'] = () => true): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => {
      reached = r;
    });
    const released = new Promise<void>((r) => {
      release = r;
    });
    this.#holds.push({ match, reached, released });
    return { reached: reachedP, release };
  }

  /** The answer to `deploy` / `checkDeployStatus`, or undefined for other methods. */
  async handle(method: string, xml: string, org: Org, store: MetadataStore): Promise<string | undefined> {
    if (method === 'deploy') return this.#deploy(xml, org, store);
    if (method === 'checkDeployStatus') return this.#status(xml, org);
    return undefined;
  }

  async #deploy(xml: string, org: Org, store: MetadataStore): Promise<string> {
    const zipText = (all(xml, 'ZipFile')[0] ?? '').trim();
    const options = all(xml, 'DeployOptions')[0] ?? '';
    const checkOnly = (all(options, 'checkOnly')[0] ?? '').trim() === 'true';
    let files: Map<string, Buffer>;
    try {
      files = await unzip(Buffer.from(zipText, 'base64'));
    } catch {
      throw soapFault('INVALID_CROSS_REFERENCE_KEY', 'The zip file is not valid.');
    }
    const manifestName = [...files.keys()].find((n) => n === 'package.xml' || /^[^/]+\/package\.xml$/.test(n));
    if (!manifestName) throw soapFault('INVALID_CROSS_REFERENCE_KEY', 'No package.xml found');
    const root = manifestName.slice(0, -'package.xml'.length);
    const manifest = (files.get(manifestName) as Buffer).toString();
    const file = (name: string) => files.get(`${root}${name}`)?.toString();

    const successes: ComponentMessage[] = [];
    const failures: ComponentMessage[] = [];
    const changes: { type: string; fullName: string; body: string; meta?: string }[] = [];
    const members: string[] = [];
    for (const t of all(manifest, 'types')) {
      const typeName = unesc(all(t, 'name')[0] ?? '').trim();
      const type = METADATA_TYPES.find((x) => x.xmlName === typeName);
      for (const member of all(t, 'members').map((m) => unesc(m).trim())) {
        members.push(`${typeName}:${member}`);
        if (!type) {
          failures.push({
            componentType: typeName,
            fullName: member,
            fileName: 'package.xml',
            problem: `Unknown type name '${typeName}' specified in package.xml`,
          });
          continue;
        }
        const path = fileName(type, member);
        const msg: ComponentMessage = { componentType: typeName, fullName: member, fileName: path };
        const content = file(path);
        if (content === undefined) {
          failures.push({
            ...msg,
            problem: `An object '${member}' of type ${typeName} was named in package.xml, but was not found in zipped directory`,
          });
          continue;
        }
        let body = content;
        if (typeName === 'ValidationRule') {
          const ruleName = member.split('.').slice(1).join('.');
          const block = [...content.matchAll(/<validationRules>[\s\S]*?<\/validationRules>/g)]
            .map((m) => m[0])
            .find((b) => unesc(all(b, 'fullName')[0] ?? '').trim() === ruleName);
          if (!block) {
            failures.push({ ...msg, problem: `No ValidationRule named ${member} found` });
            continue;
          }
          body = block;
        }
        const problem = this.#compile(typeName, member, body, org);
        if (problem) {
          failures.push({ ...msg, problem });
          continue;
        }
        const meta = type.metaFile ? file(`${path}-meta.xml`) : undefined;
        if (type.metaFile && meta === undefined) {
          failures.push({ ...msg, problem: `Missing metadata file ${path}-meta.xml for ${typeName} ${member}` });
          continue;
        }
        changes.push({ type: typeName, fullName: member, body, ...(meta !== undefined ? { meta } : {}) });
        successes.push({ ...msg, created: !store.components.get(typeName)?.has(member) });
      }
    }
    const id = `0Af${String(++this.#seq).padStart(12, '0')}AAA`;
    const status = failures.length ? 'Failed' : 'Succeeded';
    if (status === 'Succeeded' && !checkOnly) {
      for (const c of changes) store.put(c.type, c.fullName, c.body, c.meta);
    }
    const job: DeployJob = { id, org, checkOnly, members, status, failures, successes, checks: 0 };
    this.#jobs.set(id, job);
    this.deploys.push({ id, checkOnly, members, status, failures });
    for (const st of this.#stalls) if (!st.done && st.match({ checkOnly, members })) st.ids.add(id);
    const hold = this.#holds.find((h) => h.match({ checkOnly, members }));
    if (hold) {
      this.#holds.splice(this.#holds.indexOf(hold), 1);
      hold.reached();
      await hold.released;
    }
    return envelope(
      `<deployResponse><result><done>false</done><id>${id}</id><state>Queued</state></result></deployResponse>`,
    );
  }

  /** What Salesforce's compiler would refuse: a missing object, or a field it names that does not exist. */
  #compile(type: string, member: string, body: string, org: Org): string | undefined {
    const missingObject = (name: string) => `Entity of type 'CustomObject' named '${name}' cannot be found`;
    if (type === 'ApexTrigger') {
      const t = parseTrigger(body);
      if (!t) return `Error: Compile Error: unexpected token in trigger ${member}`;
      const object = org.object(t.object);
      if (!object) return `Invalid SObject type name: ${t.object}`;
      const missing = t.assignments.find(([f]) => !object.field(f));
      if (missing) return `Variable does not exist: ${missing[0]}`;
    }
    if (type === 'ValidationRule') {
      const rule = parseRule({ fullName: member, body });
      const objectName = member.split('.')[0] as string;
      const object = org.object(objectName);
      if (!object) return missingObject(objectName);
      if (rule && !object.field(rule.field)) return `Field ${rule.field} does not exist. Check spelling.`;
    }
    if (type === 'Flow') {
      const flow = parseFlow(body);
      if (flow?.recordTriggered) {
        const object = org.object(flow.object);
        if (!object) return `The flow's start element references an object that doesn't exist: ${flow.object}`;
        const missing = flow.assignments.find(([f]) => !object.field(f));
        if (missing) return `The field "$Record.${missing[0]}" doesn't exist on ${object.name}.`;
      }
    }
    return undefined;
  }

  #status(xml: string, org: Org): string {
    const id = (all(xml, 'asyncProcessId')[0] ?? '').trim();
    const job = this.#jobs.get(id);
    if (!job || job.org !== org)
      throw soapFault('INVALID_ID_FIELD', `Deploy result has been deleted or does not exist: ${id}`);
    const includeDetails = (all(xml, 'includeDetails')[0] ?? '').trim() === 'true';
    const stalled = this.#stalls.find((st) => !st.done && st.ids.has(id));
    stalled?.reached();
    if (stalled || job.checks++ < this.deployChecksInProgress) {
      return envelope(
        `<checkDeployStatusResponse><result><checkOnly>${bool(job.checkOnly)}</checkOnly><done>false</done><id>${id}</id><numberComponentErrors>0</numberComponentErrors><numberComponentsDeployed>0</numberComponentsDeployed><numberComponentsTotal>${job.members.length}</numberComponentsTotal><status>InProgress</status><success>false</success></result></checkDeployStatusResponse>`,
      );
    }
    const ok = job.status === 'Succeeded';
    const details = includeDetails
      ? `<details>${job.successes.map((m) => `<componentSuccesses>${message(m, true)}</componentSuccesses>`).join('')}${job.failures
          .map((m) => `<componentFailures>${message(m, false)}</componentFailures>`)
          .join('')}</details>`
      : '';
    return envelope(
      `<checkDeployStatusResponse><result><checkOnly>${bool(job.checkOnly)}</checkOnly><completedDate>${job.org.now().toISOString()}</completedDate>${details}<done>true</done><id>${id}</id><ignoreWarnings>false</ignoreWarnings><numberComponentErrors>${job.failures.length}</numberComponentErrors><numberComponentsDeployed>${ok ? job.successes.length : 0}</numberComponentsDeployed><numberComponentsTotal>${job.members.length}</numberComponentsTotal><numberTestErrors>0</numberTestErrors><numberTestsCompleted>0</numberTestsCompleted><numberTestsTotal>0</numberTestsTotal><rollbackOnError>true</rollbackOnError><runTestsEnabled>false</runTestsEnabled><status>${job.status}</status><success>${bool(ok)}</success></result></checkDeployStatusResponse>`,
    );
  }
}
