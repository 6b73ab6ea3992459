// Metadata API deploys: a zip built from component files (package.xml listing the members, each
// file in its folder as a retrieve gives it), sent with `deploy` and followed with
// `checkDeployStatus` (details included) until done. A deploy is all or nothing (rollbackOnError):
// its outcome names every component that failed with Salesforce's problem.
import { setTimeout as sleep } from 'node:timers/promises';
import { ZipFile } from 'yazl';
import { API_VERSION, type SalesforceApi } from './session.ts';

const NS = 'http://soap.sforce.com/2006/04/metadata';

/** One member of a deploy: its type, full name (Account.Require_Phone for a validation rule). */
export interface DeployMember {
  type: string;
  fullName: string;
}

export interface DeployPackage {
  members: DeployMember[];
  /** Path in the zip (classes/AccountService.cls, its -meta.xml, objects/Account.object) → bytes. */
  files: Map<string, Buffer>;
}

export interface ComponentProblem {
  type: string;
  fullName: string;
  fileName: string;
  problem: string;
}

export interface DeployOutcome {
  id: string;
  success: boolean;
  status: string;
  deployed: number;
  failures: ComponentProblem[];
  /** A deploy-level error (no component named). */
  errorMessage?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function packageXml(members: DeployMember[]): string {
  const byType = new Map<string, string[]>();
  for (const m of members) byType.set(m.type, [...(byType.get(m.type) ?? []), m.fullName]);
  const types = [...byType]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([name, names]) =>
        `  <types>\n${[...new Set(names)]
          .sort()
          .map((n) => `    <members>${esc(n)}</members>\n`)
          .join('')}    <name>${esc(name)}</name>\n  </types>\n`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Package xmlns="${NS}">\n${types}  <version>${API_VERSION}</version>\n</Package>\n`;
}

/** The deploy zip: package.xml at the root, then each file in its folder. */
export async function packageZip(pkg: DeployPackage): Promise<Buffer> {
  const z = new ZipFile();
  const mtime = new Date('2000-01-01T00:00:00Z');
  z.addBuffer(Buffer.from(packageXml(pkg.members)), 'package.xml', { mtime });
  for (const [name, bytes] of [...pkg.files].sort(([a], [b]) => a.localeCompare(b))) {
    z.addBuffer(bytes, name, { mtime });
  }
  z.end();
  const parts: Buffer[] = [];
  for await (const chunk of z.outputStream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

interface RawMessage {
  componentType?: string;
  fullName?: string;
  fileName?: string;
  problem?: string;
}

interface RawDeployResult {
  id: string;
  done: boolean | string;
  status?: string;
  success?: boolean | string;
  numberComponentsDeployed?: number | string;
  errorMessage?: string;
  details?: { componentFailures?: RawMessage | RawMessage[] } | { componentFailures?: RawMessage | RawMessage[] }[];
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Deploys the package (check-only: validates, changes nothing) and waits for its outcome. */
export async function deployPackage(
  api: SalesforceApi,
  pkg: DeployPackage,
  options: { checkOnly: boolean; signal: AbortSignal; pollMs: number; what: string },
): Promise<DeployOutcome> {
  const zip = await packageZip(pkg);
  const { conn } = api;
  const started = (await api.call(
    options.what,
    async () =>
      (await conn.metadata.deploy(zip, {
        checkOnly: options.checkOnly,
        rollbackOnError: true,
        singlePackage: true,
        ignoreWarnings: false,
      } as never)) as unknown as { id: string },
    options.signal,
  )) as { id: string };
  let result: RawDeployResult;
  for (;;) {
    result = (await api.call(
      `${options.what} (status)`,
      () => conn.metadata.checkDeployStatus(started.id, true),
      options.signal,
    )) as unknown as RawDeployResult;
    if (result.done === true || result.done === 'true') break;
    await sleep(options.pollMs, undefined, { signal: options.signal });
  }
  const failures: ComponentProblem[] = [];
  for (const d of list(result.details)) {
    for (const f of list(d.componentFailures)) {
      failures.push({
        type: f.componentType ?? '',
        fullName: f.fullName ?? '',
        fileName: f.fileName ?? '',
        problem: f.problem ?? 'failed',
      });
    }
  }
  const success = result.success === true || result.success === 'true';
  return {
    id: started.id,
    success,
    status: result.status ?? (success ? 'Succeeded' : 'Failed'),
    deployed: Number(result.numberComponentsDeployed ?? 0),
    failures,
    ...(result.errorMessage ? { errorMessage: result.errorMessage } : {}),
  };
}

/** One sentence for a failed deploy (the first problems, by component). */
export function deployProblems(outcome: DeployOutcome, max = 3): string {
  const named = outcome.failures.slice(0, max).map((f) => `${f.type} ${f.fullName}: ${f.problem}`);
  const more = outcome.failures.length > max ? ` (and ${outcome.failures.length - max} more)` : '';
  return named.length ? `${named.join('; ')}${more}` : (outcome.errorMessage ?? `status ${outcome.status}`);
}
