// The stand-in's automation: what an org's active Apex triggers, validation rules and
// record-triggered flows do to a record being written, so tests can tell whether they were on.
// A small, declared subset of each language:
// - ApexTrigger (active unless its -meta.xml says <status>Inactive</status>):
//   `trigger Name on Account (before insert, before update) { … a.Description = 'text'; … }`:
//   each `x.Field = 'text';` sets the field on before insert / before update.
// - ValidationRule `Account.Rule` (<active>true</active>): <errorConditionFormula> ISBLANK(Field)
//   or NOT(ISBLANK(Field)); when it holds, the write fails with FIELD_CUSTOM_VALIDATION_EXCEPTION
//   and the rule's <errorMessage>.
// - Flow (<status>Active</status>) with <start><object>Account</object><triggerType>RecordBeforeSave
//   </triggerType>: each assignment of `$Record.Field` to a <stringValue> sets the field.
// Deploys check the fields these name (deploy.ts), as Salesforce compiles them.
import { all, type Component, METADATA_NS, type MetadataStore, unesc } from './metadata.ts';
import { ApiError, type RecordValues, type SObject } from './model.ts';

export interface TriggerSpec {
  object: string;
  events: string[];
  assignments: [string, string][];
}

export function parseTrigger(body: string): TriggerSpec | undefined {
  const head = /trigger\s+\w+\s+on\s+(\w+)\s*\(([^)]*)\)/i.exec(body);
  if (!head) return undefined;
  const events = (head[2] as string).split(',').map((e) => e.trim().toLowerCase().replace(/\s+/g, ' '));
  const assignments = [...body.matchAll(/\b\w+\.(\w+)\s*=\s*'([^']*)'\s*;/g)].map(
    (m) => [m[1] as string, m[2] as string] as [string, string],
  );
  return { object: head[1] as string, events, assignments };
}

export function triggerActive(c: Component): boolean {
  return !/<status>\s*(Inactive|Deleted)\s*<\/status>/.test(c.meta ?? '');
}

export interface RuleSpec {
  object: string;
  active: boolean;
  field: string;
  negated: boolean;
  message: string;
}

export function parseRule(c: Pick<Component, 'fullName' | 'body'>): RuleSpec | undefined {
  const formula = unesc(all(c.body, 'errorConditionFormula')[0] ?? '').trim();
  const m = /^(NOT\(\s*)?ISBLANK\(\s*(\w+)\s*\)\s*\)?$/i.exec(formula);
  if (!m) return undefined;
  return {
    object: c.fullName.split('.')[0] as string,
    active: (all(c.body, 'active')[0] ?? '').trim() === 'true',
    field: m[2] as string,
    negated: !!m[1],
    message: unesc(all(c.body, 'errorMessage')[0] ?? 'Invalid record.'),
  };
}

export interface FlowSpec {
  object: string;
  active: boolean;
  recordTriggered: boolean;
  assignments: [string, string][];
}

export function parseFlow(body: string): FlowSpec | undefined {
  const start = all(body, 'start')[0];
  if (!start) return undefined;
  const object = (all(start, 'object')[0] ?? '').trim();
  const triggerType = (all(start, 'triggerType')[0] ?? '').trim();
  const assignments: [string, string][] = [];
  for (const item of all(body, 'assignmentItems')) {
    const ref = /^\$Record\.(\w+)$/.exec((all(item, 'assignToReference')[0] ?? '').trim());
    const value = all(item, 'stringValue')[0];
    if (ref && value !== undefined) assignments.push([ref[1] as string, unesc(value)]);
  }
  return {
    object,
    active: (all(body, 'status')[0] ?? '').trim() === 'Active',
    recordTriggered: /^Record(Before|After)Save$/.test(triggerType),
    assignments,
  };
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The org's write hook: what active automation does to a record about to be stored. */
export function automationHook(store: MetadataStore) {
  return (object: SObject, values: RecordValues, op: 'insert' | 'update'): void => {
    const event = `before ${op}`;
    for (const c of store.components.get('ApexTrigger')?.values() ?? []) {
      const t = parseTrigger(c.body);
      if (!t || !triggerActive(c) || !same(t.object, object.name) || !t.events.includes(event)) continue;
      for (const [field, value] of t.assignments) {
        const f = object.field(field);
        if (f) values[f.name] = value;
      }
    }
    for (const c of store.components.get('Flow')?.values() ?? []) {
      const flow = parseFlow(c.body);
      if (!flow?.active || !flow.recordTriggered || !same(flow.object, object.name)) continue;
      for (const [field, value] of flow.assignments) {
        const f = object.field(field);
        if (f) values[f.name] = value;
      }
    }
    for (const c of store.components.get('ValidationRule')?.values() ?? []) {
      const rule = parseRule(c);
      if (!rule?.active || !same(rule.object, object.name)) continue;
      const f = object.field(rule.field);
      const v = f ? values[f.name] : null;
      const blank = v === null || v === undefined || v === '';
      if (blank !== rule.negated) {
        throw new ApiError(400, [
          { message: rule.message, errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', fields: f ? [f.name] : [] },
        ]);
      }
    }
  };
}

const INACTIVE_META = `<?xml version="1.0" encoding="UTF-8"?>\n<ApexTrigger xmlns="${METADATA_NS}"><apiVersion>62.0</apiVersion><status>Inactive</status></ApexTrigger>\n`;

/**
 * Automation of the demo objects: on Account an active trigger (stamps Description), an active
 * validation rule (Phone required), an active record-triggered flow (sets Website) and an
 * inactive trigger; on Contact an active validation rule (Email required).
 */
export function seedDemoAutomation(store: MetadataStore): void {
  store.put(
    'ApexTrigger',
    'AccountStamp',
    "trigger AccountStamp on Account (before insert, before update) {\n  for (Account a : Trigger.new) {\n    a.Description = 'Stamped by trigger';\n  }\n}\n",
  );
  store.put(
    'ApexTrigger',
    'AccountLegacy',
    "trigger AccountLegacy on Account (before insert) {\n  for (Account a : Trigger.new) {\n    a.Industry = 'Legacy';\n  }\n}\n",
    INACTIVE_META,
  );
  store.put(
    'ValidationRule',
    'Account.Require_Phone',
    '<validationRules><fullName>Require_Phone</fullName><active>true</active><errorConditionFormula>ISBLANK(Phone)</errorConditionFormula><errorMessage>Phone is required.</errorMessage></validationRules>',
  );
  store.put(
    'ValidationRule',
    'Contact.Require_Email',
    '<validationRules><fullName>Require_Email</fullName><active>true</active><errorConditionFormula>ISBLANK(Email)</errorConditionFormula><errorMessage>Email is required.</errorMessage></validationRules>',
  );
  store.put(
    'Flow',
    'Account_Website',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Flow xmlns="${METADATA_NS}"><assignments><name>Set_Website</name><assignmentItems><assignToReference>$Record.Website</assignToReference><operator>Assign</operator><value><stringValue>https://flow.example</stringValue></value></assignmentItems></assignments><label>Account Website</label><processType>AutoLaunchedFlow</processType><start><object>Account</object><recordTriggerType>CreateAndUpdate</recordTriggerType><triggerType>RecordBeforeSave</triggerType></start><status>Active</status></Flow>\n`,
  );
}
