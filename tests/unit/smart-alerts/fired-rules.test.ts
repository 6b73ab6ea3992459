// Which smart alert rules a run fires: "more than" (the threshold itself does not fire), counts
// and percentages of the items before the run, one object or any, one user (the top author,
// never more than the run's own count) or all users, nothing without a baseline or when off.
import { describe, expect, it } from 'vitest';
import type { ISmartAlertRule } from '../../../core/smart-alerts/entities.ts';
import { describeRule, firedRules, type RunChanges } from '../../../core/smart-alerts/evaluate.ts';

let nextId = 1;
function rule(overrides: Partial<ISmartAlertRule>): ISmartAlertRule {
  return {
    id: nextId++,
    entityExternalId: null,
    change: 'deleted',
    unit: 'count',
    threshold: 10,
    users: 'all',
    enabled: true,
    createdAt: new Date(0),
    ...overrides,
  } as ISmartAlertRule;
}

function run(overrides: Partial<RunChanges>): RunChanges {
  return {
    task: { id: 't', name: 'Org', service: 'salesforce', organization: { id: 'o' } },
    entity: { externalId: 'Contact', name: 'Contact', kind: 'data' },
    jobId: 'j',
    itemsBefore: 100,
    changes: { added: 0, updated: 0, deleted: 0 },
    at: new Date(0),
    ...overrides,
  };
}

describe('firedRules', () => {
  it('fires above the threshold, not at it', () => {
    const r = rule({ threshold: 10 });
    expect(firedRules([r], run({ changes: { added: 0, updated: 0, deleted: 10 } }))).toHaveLength(0);
    expect(firedRules([r], run({ changes: { added: 0, updated: 0, deleted: 11 } }))).toHaveLength(1);
  });

  it('measures a percentage of the items before the run', () => {
    const r = rule({ unit: 'percent', threshold: 10 });
    expect(firedRules([r], run({ itemsBefore: 200, changes: { added: 0, updated: 0, deleted: 20 } }))).toHaveLength(0);
    const [fired] = firedRules([r], run({ itemsBefore: 200, changes: { added: 0, updated: 0, deleted: 21 } }));
    expect(fired?.text).toBe('21 of 200 Contact records (10.5 %) deleted (more than 10 %)');
  });

  it('watches its object only, or every object', () => {
    const changes = { added: 50, updated: 0, deleted: 0 };
    const onAccount = rule({ entityExternalId: 'Account', change: 'added' });
    const onAny = rule({ change: 'added' });
    expect(firedRules([onAccount, onAny], run({ changes })).map((f) => f.rule.id)).toEqual([onAny.id]);
  });

  it('takes the top user for "one user", capped at the run’s count, and nothing without per-user counts', () => {
    const r = rule({ users: 'one', threshold: 5 });
    const changes = { added: 0, updated: 0, deleted: 12 };
    const split = [
      { user: 'a', added: 0, updated: 0, deleted: 5 },
      { user: 'b', added: 0, updated: 0, deleted: 5 },
    ];
    expect(firedRules([r], run({ changes, changesBy: split }))).toHaveLength(0);
    const [fired] = firedRules(
      [r],
      run({
        changes: { added: 0, updated: 0, deleted: 7 },
        changesBy: [{ user: 'b', added: 0, updated: 0, deleted: 9 }],
      }),
    );
    expect(fired?.text).toBe('7 Contact records deleted by user b (more than 5)');
    expect(firedRules([r], run({ changes }))).toHaveLength(0);
  });

  it('fires nothing on a first run (no baseline) or for a rule turned off', () => {
    const changes = { added: 100, updated: 0, deleted: 0 };
    expect(firedRules([rule({ change: 'added' })], run({ itemsBefore: null, changes }))).toHaveLength(0);
    expect(firedRules([rule({ change: 'added', enabled: false })], run({ changes }))).toHaveLength(0);
  });

  it('describes a rule in words', () => {
    expect(describeRule(rule({ entityExternalId: 'Contact', unit: 'percent', users: 'one' }))).toBe(
      'More than 10 % of Contact records deleted by one user in a run',
    );
    expect(describeRule(rule({ change: 'updated', threshold: 5000 }))).toBe(
      'More than 5000 records of any object updated by all users in a run',
    );
  });
});
