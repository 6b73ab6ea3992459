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
import { all, type Component, type MetadataStore, unesc } from './metadata.ts';
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
