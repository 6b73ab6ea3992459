// The Metadata API (SOAP, /services/Soap/m/<version>) of the stand-in, as jsforce's `metadata`
// calls it: describeMetadata, listMetadata (queries of types, FileProperties per component),
// retrieve of an unpackaged manifest (an async id) and checkRetrieveStatus (done, the
// FileProperties and the zip in base64: package.xml and each component's file, with its
// -meta.xml where the type has one). Faults as SOAP faults (500, faultcode sf:…). Validation rules
// live inside their object's file (objects/Account.object, as the Metadata API has them); deploys
// are in deploy.ts.
import { ZipFile } from 'yazl';
import { ApiError, type Org, sfDateTime } from './model.ts';

export const METADATA_NS = 'http://soap.sforce.com/2006/04/metadata';

export interface MetadataType {
  xmlName: string;
  directoryName: string;
  suffix: string;
  /** Whether each component has a `-meta.xml` beside its file (Apex classes, triggers). */
  metaFile: boolean;
}

/** The types the stand-in knows (a small part of Salesforce's). */
export const METADATA_TYPES: MetadataType[] = [
  { xmlName: 'ApexClass', directoryName: 'classes', suffix: 'cls', metaFile: true },
  { xmlName: 'ApexTrigger', directoryName: 'triggers', suffix: 'trigger', metaFile: true },
  { xmlName: 'Flow', directoryName: 'flows', suffix: 'flow', metaFile: false },
  { xmlName: 'CustomObject', directoryName: 'objects', suffix: 'object', metaFile: false },
  { xmlName: 'Layout', directoryName: 'layouts', suffix: 'layout', metaFile: false },
  { xmlName: 'Profile', directoryName: 'profiles', suffix: 'profile', metaFile: false },
  { xmlName: 'PermissionSet', directoryName: 'permissionsets', suffix: 'permissionset', metaFile: false },
  // Members are Object.Rule; their file is the object's (objects/Account.object).
  { xmlName: 'ValidationRule', directoryName: 'objects', suffix: 'object', metaFile: false },
];

export interface Component {
  type: string;
  fullName: string;
  id: string;
  body: string;
  /** The -meta.xml as last deployed (an Apex trigger's status); absent: Active, the API version. */
  meta?: string;
  createdDate: string;
  lastModifiedDate: string;
}

/** An org's metadata components by type and full name. */
export class MetadataStore {
  readonly components = new Map<string, Map<string, Component>>();
  #seq = 0;
  readonly #org: Org;

  constructor(org: Org) {
    this.#org = org;
  }

  /** Adds or changes a component (its lastModifiedDate moves); `meta`: its -meta.xml, if deployed with one. */
  put(type: string, fullName: string, body: string, meta?: string): Component {
    if (!METADATA_TYPES.some((t) => t.xmlName === type)) throw new Error(`unknown metadata type ${type}`);
    let byName = this.components.get(type);
    if (!byName) {
      byName = new Map();
      this.components.set(type, byName);
    }
    const now = sfDateTime(this.#org.now());
    const existing = byName.get(fullName);
    const component: Component = existing
      ? { ...existing, body, ...(meta !== undefined ? { meta } : {}), lastModifiedDate: now }
      : {
          type,
          fullName,
          id: `0${(++this.#seq).toString(36).padStart(14, '0')}AAA`,
          body,
          ...(meta !== undefined ? { meta } : {}),
          createdDate: now,
          lastModifiedDate: now,
        };
    byName.set(fullName, component);
    return component;
  }

  remove(type: string, fullName: string): void {
    this.components.get(type)?.delete(fullName);
  }
}

interface RetrieveJob {
  org: Org;
  members: Component[];
  singlePackage: boolean;
}

export const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
export const unesc = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

export function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="${METADATA_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
}

/** A SOAP fault as Salesforce sends it (HTTP 500). */
export function soapFault(code: string, message: string): ApiError {
  return new ApiError(
    500,
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="http://soap.sforce.com/2006/04/metadata"><soapenv:Body><soapenv:Fault><faultcode>sf:${code}</faultcode><faultstring>${esc(`${code}: ${message}`)}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
    { 'Content-Type': 'text/xml;charset=UTF-8' },
  );
}

export function all(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1] as string);
}

export function fileName(type: MetadataType, fullName: string): string {
  if (type.xmlName === 'ValidationRule') return `objects/${fullName.split('.')[0]}.object`;
  return `${type.directoryName}/${fullName}.${type.suffix}`;
}

/** An object's file holding the given validation rules (each body is its <validationRules> element). */
export function objectFileWithRules(rules: Component[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="${METADATA_NS}">${rules.map((r) => r.body).join('')}</CustomObject>\n`;
}

function fileProperties(c: Component, org: Org): string {
  const type = METADATA_TYPES.find((t) => t.xmlName === c.type) as MetadataType;
  return [
    `<createdById>${org.adminId}</createdById>`,
    '<createdByName>Stand-in Admin</createdByName>',
    `<createdDate>${c.createdDate.replace('+0000', 'Z')}</createdDate>`,
    `<fileName>${esc(fileName(type, c.fullName))}</fileName>`,
    `<fullName>${esc(c.fullName)}</fullName>`,
    `<id>${c.id}</id>`,
    `<lastModifiedById>${org.adminId}</lastModifiedById>`,
    '<lastModifiedByName>Stand-in Admin</lastModifiedByName>',
    `<lastModifiedDate>${c.lastModifiedDate.replace('+0000', 'Z')}</lastModifiedDate>`,
    '<manageableState>unmanaged</manageableState>',
    `<type>${c.type}</type>`,
  ].join('');
}

export function packageXml(members: Component[], version: string): string {
  const byType = new Map<string, string[]>();
  for (const c of members) byType.set(c.type, [...(byType.get(c.type) ?? []), c.fullName]);
  const types = [...byType]
    .map(
      ([name, names]) =>
        `<types>${names.map((n) => `<members>${esc(n)}</members>`).join('')}<name>${name}</name></types>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Package xmlns="${METADATA_NS}">${types}<version>${version}</version></Package>\n`;
}

async function zip(job: RetrieveJob, version: string): Promise<Buffer> {
  const z = new ZipFile();
  const root = job.singlePackage ? '' : 'unpackaged/';
  const mtime = new Date('2026-01-01T00:00:00Z');
  z.addBuffer(Buffer.from(packageXml(job.members, version)), `${root}package.xml`, { mtime });
  const rulesByFile = new Map<string, Component[]>();
  for (const c of job.members) {
    const type = METADATA_TYPES.find((t) => t.xmlName === c.type) as MetadataType;
    const name = `${root}${fileName(type, c.fullName)}`;
    if (c.type === 'ValidationRule') {
      rulesByFile.set(name, [...(rulesByFile.get(name) ?? []), c]);
      continue;
    }
    z.addBuffer(Buffer.from(c.body), name, { mtime });
    if (type.metaFile) {
      const meta =
        c.meta ??
        `<?xml version="1.0" encoding="UTF-8"?>\n<${c.type} xmlns="${METADATA_NS}"><apiVersion>${version}</apiVersion><status>Active</status></${c.type}>\n`;
      z.addBuffer(Buffer.from(meta), `${name}-meta.xml`, { mtime });
    }
  }
  for (const [name, rules] of rulesByFile) z.addBuffer(Buffer.from(objectFileWithRules(rules)), name, { mtime });
  z.end();
  const parts: Buffer[] = [];
  for await (const chunk of z.outputStream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export class MetadataApi {
  readonly #jobs = new Map<string, RetrieveJob>();
  #seq = 0;
  /** checkRetrieveStatus answers InProgress this many times before done. */
  retrieveChecksInProgress = 0;
  /** Components handed out in retrieve zips so far. */
  retrievedComponents = 0;
  readonly #checks = new Map<string, number>();

  /** The SOAP method of a request, for counters. */
  static method(xml: string): string {
    return /<soapenv:Body[^>]*>\s*<(\w+)/.exec(xml)?.[1] ?? 'unknown';
  }

  async handle(xml: string, org: Org, store: MetadataStore, version: string): Promise<string> {
    const method = MetadataApi.method(xml);
    switch (method) {
      case 'describeMetadata': {
        const objects = METADATA_TYPES.map(
          (t) =>
            `<metadataObjects><directoryName>${t.directoryName}</directoryName><inFolder>false</inFolder><metaFile>${t.metaFile}</metaFile><suffix>${t.suffix}</suffix><xmlName>${t.xmlName}</xmlName></metadataObjects>`,
        ).join('');
        return envelope(
          `<describeMetadataResponse><result>${objects}<organizationNamespace></organizationNamespace><partialSaveAllowed>true</partialSaveAllowed><testRequired>false</testRequired></result></describeMetadataResponse>`,
        );
      }
      case 'listMetadata': {
        const types = all(xml, 'queries').map((q) => unesc(all(q, 'type')[0] ?? ''));
        if (types.length > 3) throw soapFault('INVALID_TYPE', 'listMetadata takes at most 3 queries.');
        const results: string[] = [];
        for (const type of types) {
          if (!METADATA_TYPES.some((t) => t.xmlName === type)) throw soapFault('INVALID_TYPE', `Unknown type: ${type}`);
          for (const c of store.components.get(type)?.values() ?? [])
            results.push(`<result>${fileProperties(c, org)}</result>`);
        }
        return envelope(`<listMetadataResponse>${results.join('')}</listMetadataResponse>`);
      }
      case 'retrieve': {
        const request = all(xml, 'request')[0] ?? '';
        const members: Component[] = [];
        for (const t of all(request, 'types')) {
          const type = unesc(all(t, 'name')[0] ?? '');
          const byName = store.components.get(type);
          for (const m of all(t, 'members').map(unesc)) {
            if (m === '*') members.push(...(byName?.values() ?? []));
            else {
              const c = byName?.get(m);
              if (c) members.push(c);
            }
          }
        }
        const id = `09S${String(++this.#seq).padStart(12, '0')}AAA`;
        this.#jobs.set(id, { org, members, singlePackage: all(request, 'singlePackage')[0] === 'true' });
        return envelope(
          `<retrieveResponse><result><done>false</done><id>${id}</id><state>Queued</state></result></retrieveResponse>`,
        );
      }
      case 'checkRetrieveStatus': {
        const id = all(xml, 'asyncProcessId')[0] ?? '';
        const job = this.#jobs.get(id);
        if (!job || job.org !== org)
          throw soapFault('INVALID_ID_FIELD', `Retrieve result has been deleted or does not exist: ${id}`);
        const checks = this.#checks.get(id) ?? 0;
        this.#checks.set(id, checks + 1);
        if (checks < this.retrieveChecksInProgress) {
          return envelope(
            `<checkRetrieveStatusResponse><result><done>false</done><id>${id}</id><status>InProgress</status><success>false</success></result></checkRetrieveStatusResponse>`,
          );
        }
        this.retrievedComponents += job.members.length;
        const props = job.members.map((c) => `<fileProperties>${fileProperties(c, org)}</fileProperties>`).join('');
        const data = (await zip(job, version)).toString('base64');
        return envelope(
          `<checkRetrieveStatusResponse><result><done>true</done>${props}<id>${id}</id><status>Succeeded</status><success>true</success><zipFile>${data}</zipFile></result></checkRetrieveStatusResponse>`,
        );
      }
      default:
        throw soapFault('INVALID_OPERATION', `The stand-in does not answer ${method}.`);
    }
  }
}
