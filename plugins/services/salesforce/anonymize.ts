// Anonymization of records replicated to a sandbox (seed 6.3.1.2): a default template (names,
// emails, phones, addresses get typical fake values; notes random text) and per-object, per-field
// rules (keep, fake by type, random, fixed value, blank). Consistent: every fake value is drawn
// from HMAC-SHA256(task key, kind + source value), so the same source value becomes the same fake
// value in every object and every run with that key (joins and duplicates survive). Formats and
// lengths are kept; emails stay valid and are never deliverable (`example.invalid`, RFC 2606: the
// `.invalid` TLD never resolves). Pure: no I/O.
import { createHmac } from 'node:crypto';
import { csvLine } from '../../../core/plugins/csv.ts';

export const ANONYMOUS_EMAIL_DOMAIN = 'example.invalid';

export const RULE_ACTIONS = ['keep', 'fake', 'random', 'fixed', 'blank'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

/** A rule for one field (`object` `*`: every object). */
export interface FieldRule {
  object: string;
  field: string;
  action: RuleAction;
  /** For `fixed`. */
  value?: string | undefined;
}

/** What a fake value of a field looks like. */
export type FakeKind =
  | 'firstName'
  | 'lastName'
  | 'fullName'
  | 'company'
  | 'email'
  | 'phone'
  | 'street'
  | 'city'
  | 'postalCode'
  | 'text';

/** The field as the target's describe gives it. */
export interface AnonymizedField {
  name: string;
  type: string;
  /** Maximum characters (describe `length`), when known. */
  length?: number | undefined;
}

const FIRST_NAMES = ['Alex', 'Jordan', 'Taylor', 'Morgan', 'Casey', 'Riley', 'Jamie', 'Avery', 'Quinn', 'Rowan'];
const LAST_NAMES = ['Smith', 'Johnson', 'Brown', 'Miller', 'Davis', 'Wilson', 'Moore', 'Clark', 'Lewis', 'Walker'];
const COMPANIES = ['Northwind', 'Contoso', 'Fabrikam', 'Initech', 'Globex', 'Umbrella', 'Hooli', 'Vandelay'];
const STREETS = ['Main Street', 'Oak Avenue', 'Pine Road', 'Maple Lane', 'Cedar Drive', 'Elm Street'];
const CITIES = ['Springfield', 'Riverton', 'Fairview', 'Greenville', 'Franklin', 'Clinton', 'Madison'];

const ADDRESS_PARTS: [RegExp, FakeKind][] = [
  [/Street$/, 'street'],
  [/City$/, 'city'],
  [/PostalCode$/, 'postalCode'],
];

/**
 * The default template: fields by name on every object (`*`), then by type. A field neither names
 * nor its type match is kept.
 */
export const DEFAULT_TEMPLATE: readonly (FieldRule & { kind: FakeKind })[] = [
  { object: '*', field: 'FirstName', action: 'fake', kind: 'firstName' },
  { object: '*', field: 'LastName', action: 'fake', kind: 'lastName' },
  { object: '*', field: 'MiddleName', action: 'fake', kind: 'firstName' },
  { object: 'Account', field: 'Name', action: 'fake', kind: 'company' },
  { object: 'Contact', field: 'Name', action: 'fake', kind: 'fullName' },
  { object: 'Lead', field: 'Name', action: 'fake', kind: 'fullName' },
  { object: '*', field: 'Company', action: 'fake', kind: 'company' },
  { object: '*', field: 'Email', action: 'fake', kind: 'email' },
  { object: '*', field: 'Phone', action: 'fake', kind: 'phone' },
  { object: '*', field: 'MobilePhone', action: 'fake', kind: 'phone' },
  { object: '*', field: 'HomePhone', action: 'fake', kind: 'phone' },
  { object: '*', field: 'OtherPhone', action: 'fake', kind: 'phone' },
  { object: '*', field: 'Fax', action: 'fake', kind: 'phone' },
  { object: '*', field: '*Street', action: 'fake', kind: 'street' },
  { object: '*', field: '*City', action: 'fake', kind: 'city' },
  { object: '*', field: '*PostalCode', action: 'fake', kind: 'postalCode' },
  { object: '*', field: 'Description', action: 'random', kind: 'text' },
  { object: '*', field: '(type email)', action: 'fake', kind: 'email' },
  { object: '*', field: '(type phone)', action: 'fake', kind: 'phone' },
  { object: '*', field: '(type textarea)', action: 'random', kind: 'text' },
];

/** Types never changed whatever a rule says: ids, lookups, picklists (a fake would be refused). */
const UNTOUCHABLE = new Set(['id', 'reference', 'picklist', 'multipicklist', 'boolean', 'combobox']);

/** `Name` is a company on Account, a person on Contact and Lead, kept on other objects. */
const NAMES = new Map(DEFAULT_TEMPLATE.filter((r) => r.field === 'Name').map((r) => [r.object, r]));

const KINDS_BY_NAME = new Map(DEFAULT_TEMPLATE.filter((r) => !r.field.startsWith('(')).map((r) => [r.field, r]));

function templateKind(object: string, field: AnonymizedField): { action: RuleAction; kind: FakeKind } | undefined {
  if (field.name === 'Name') return NAMES.get(object);
  const named = KINDS_BY_NAME.get(field.name);
  if (named) return named;
  for (const [pattern, kind] of ADDRESS_PARTS) if (pattern.test(field.name)) return { action: 'fake', kind };
  if (field.type === 'email') return { action: 'fake', kind: 'email' };
  if (field.type === 'phone') return { action: 'fake', kind: 'phone' };
  if (field.type === 'textarea') return { action: 'random', kind: 'text' };
  return undefined;
}

function kindOfType(field: AnonymizedField): FakeKind {
  return field.type === 'email' ? 'email' : field.type === 'phone' ? 'phone' : 'text';
}

export class Anonymizer {
  readonly #key: Buffer;
  readonly #rules: Map<string, FieldRule>;

  constructor(key: Buffer | string, rules: readonly FieldRule[] = []) {
    this.#key = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    if (this.#key.length < 16) throw new Error('An anonymization key has at least 16 bytes.');
    this.#rules = new Map(rules.map((r) => [`${r.object}.${r.field}`, r]));
  }

  /** What happens to a field of an object: a rule of its own, one for every object, else the template. */
  ruleFor(object: string, field: AnonymizedField): { action: RuleAction; kind: FakeKind; value?: string | undefined } {
    if (UNTOUCHABLE.has(field.type) || field.name === 'Id') return { action: 'keep', kind: 'text' };
    const own = this.#rules.get(`${object}.${field.name}`) ?? this.#rules.get(`*.${field.name}`);
    const template = templateKind(object, field);
    if (own) return { action: own.action, kind: template?.kind ?? kindOfType(field), value: own.value };
    return template ?? { action: 'keep', kind: 'text' };
  }

  /** A copy of the record's values with its fields anonymized. */
  record(object: string, values: Record<string, unknown>, fields: readonly AnonymizedField[]): Record<string, unknown> {
    const out = { ...values };
    for (const f of fields) {
      const v = values[f.name];
      if (v === null || v === undefined || v === '') continue;
      const rule = this.ruleFor(object, f);
      if (rule.action === 'keep') continue;
      if (rule.action === 'blank') out[f.name] = null;
      else if (rule.action === 'fixed') out[f.name] = clip(rule.value ?? '', f.length);
      else out[f.name] = this.value(rule.action === 'random' ? 'text' : rule.kind, v, f);
    }
    return out;
  }

  /** The fake value of one source value: the same for the same kind and value under one key. */
  value(kind: FakeKind, source: unknown, field: AnonymizedField = { name: '', type: 'string' }): unknown {
    if (typeof source === 'number') return this.#number(source);
    const text = String(source);
    const normalized = kind === 'email' ? text.trim().toLowerCase() : text;
    const bytes = this.#stream(`${kind}\0${normalized}`, Math.max(64, text.length * 2));
    const pick = <T>(list: readonly T[], at: number): T => list[(bytes[at] ?? 0) % list.length] as T;
    let fake: string;
    switch (kind) {
      case 'firstName':
        fake = pick(FIRST_NAMES, 0);
        break;
      case 'lastName':
        fake = pick(LAST_NAMES, 0);
        break;
      case 'fullName':
        fake = `${pick(FIRST_NAMES, 0)} ${pick(LAST_NAMES, 1)}`;
        break;
      case 'company':
        fake = `${pick(COMPANIES, 0)} ${hex(bytes, 2, 2).toUpperCase()}`;
        break;
      case 'email':
        fake = `${pick(FIRST_NAMES, 0).toLowerCase()}.${pick(LAST_NAMES, 1).toLowerCase()}.${hex(bytes, 2, 4)}@${ANONYMOUS_EMAIL_DOMAIN}`;
        break;
      case 'street':
        fake = `${100 + (((bytes[0] ?? 0) * 256 + (bytes[1] ?? 0)) % 9900)} ${pick(STREETS, 2)}`;
        break;
      case 'city':
        fake = pick(CITIES, 0);
        break;
      case 'phone':
      case 'postalCode':
        fake = sameShape(text, bytes);
        break;
      default:
        fake = randomText(text, bytes);
    }
    // The fake equal to its source would leak it: a deterministic variant instead.
    if (fake.toLowerCase() === text.toLowerCase()) fake = kind === 'email' ? `x${fake}` : `${fake} ${hex(bytes, 8, 2)}`;
    return clip(fake, field.length);
  }

  #number(source: number): number {
    const bytes = this.#stream(`number\0${source}`, 8);
    const digits = String(Math.trunc(Math.abs(source))).length;
    const n = bytes.readUInt32BE(0) % 10 ** Math.min(digits, 9);
    return source < 0 ? -n : n;
  }

  #stream(input: string, length: number): Buffer {
    const parts: Buffer[] = [];
    for (let i = 0; parts.length * 32 < length; i++) {
      parts.push(createHmac('sha256', this.#key).update(`${i}\0${input}`).digest());
    }
    return Buffer.concat(parts);
  }
}

function hex(bytes: Buffer, from: number, count: number): string {
  return bytes.subarray(from, from + count).toString('hex');
}

/** Digits become other digits, letters other letters of the same case; the rest stays (format kept). */
function sameShape(text: string, bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    const b = bytes[i % bytes.length] ?? 0;
    if (/[0-9]/.test(c)) out += String(b % 10);
    else if (/[a-z]/.test(c)) out += String.fromCharCode(97 + (b % 26));
    else if (/[A-Z]/.test(c)) out += String.fromCharCode(65 + (b % 26));
    else out += c;
  }
  return out;
}

/** Meaningless lowercase words of the source's length (its line breaks and spaces kept). */
function randomText(text: string, bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    out += /\s/.test(c) ? c : String.fromCharCode(97 + ((bytes[i % bytes.length] ?? 0) % 26));
  }
  return out;
}

function clip(value: string, length: number | undefined): string {
  return length && length > 0 && value.length > length ? value.slice(0, length) : value;
}

export const TEMPLATE_COLUMNS = ['Object', 'Field', 'Action', 'Fake value type', 'Example'];

/** The default template's rows (the "Download the Full Anonymization Template" file), with an example each. */
export function templateRows(): string[][] {
  const example = new Anonymizer(Buffer.alloc(32, 7));
  const samples: Record<FakeKind, string> = {
    firstName: 'Maria',
    lastName: 'Garcia',
    fullName: 'Maria Garcia',
    company: 'Acme Corp',
    email: 'maria.garcia@acme.com',
    phone: '(415) 555-0134',
    street: '1 Market St',
    city: 'San Francisco',
    postalCode: '94105',
    text: 'Called about renewal',
  };
  return DEFAULT_TEMPLATE.map((r) => [
    r.object,
    r.field,
    r.action,
    r.kind,
    `${samples[r.kind]} → ${String(example.value(r.kind, samples[r.kind]))}`,
  ]);
}

/** The default template as CSV. */
export function templateCsv(): string {
  let out = csvLine(TEMPLATE_COLUMNS);
  for (const row of templateRows()) out += csvLine(row);
  return out;
}
