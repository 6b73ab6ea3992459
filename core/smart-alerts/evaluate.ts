// Checks a task's smart alert rules against one finished backup run, in the transaction that
// records the run: each rule that the run's changes exceed raises one smart alert notification
// (keyed by rule and job, so a retried transaction mails once) and a System Activity entry.
// Generic over services: it reads the kernel's change counts and the plugin's `changesBy`.
import type { EntityManager } from '@mikro-orm/core';
import { addActivity } from '../activity/activity-service.ts';
import { raiseSmartAlert } from '../notifications/smart-alerts.ts';
import { type AlertChange, type ISmartAlertRule, SmartAlertRule } from './entities.ts';

export interface RunChanges {
  task: { id: string; name: string; service: string; organization: { id: string } };
  entity: { externalId: string; name: string; kind: string };
  jobId: string;
  /** Items of the entity before the run (the base of a percentage); null: no earlier snapshot. */
  itemsBefore: number | null;
  changes: Record<AlertChange, number>;
  changesBy?: { user: string; added: number; updated: number; deleted: number }[];
  at: Date;
}

/** The amount a rule compares, and whose it is ("by user 005…"); undefined when it cannot tell. */
function measure(rule: ISmartAlertRule, run: RunChanges): { value: number; user?: string } | undefined {
  if (rule.users === 'all') return { value: run.changes[rule.change] };
  if (!run.changesBy?.length) return undefined;
  let top = run.changesBy[0] as NonNullable<RunChanges['changesBy']>[number];
  for (const by of run.changesBy) if (by[rule.change] > top[rule.change]) top = by;
  // Never more than the run's own count: the kernel's diff of the snapshots is the truth.
  return { value: Math.min(top[rule.change], run.changes[rule.change]), user: top.user };
}

/** The rules this run fires, with the sentence that says why. */
export function firedRules(rules: ISmartAlertRule[], run: RunChanges): { rule: ISmartAlertRule; text: string }[] {
  // The first run of an entity has no baseline: every item is "added".
  if (run.itemsBefore === null) return [];
  const fired: { rule: ISmartAlertRule; text: string }[] = [];
  for (const rule of rules) {
    if (!rule.enabled) continue;
    if (rule.entityExternalId != null && rule.entityExternalId !== run.entity.externalId) continue;
    const m = measure(rule, run);
    if (!m || m.value === 0) continue;
    const who = m.user ? ` by user ${m.user}` : '';
    if (rule.unit === 'count') {
      if (m.value > rule.threshold) {
        fired.push({
          rule,
          text: `${m.value} ${run.entity.name} records ${rule.change}${who} (more than ${rule.threshold})`,
        });
      }
      continue;
    }
    if (run.itemsBefore === 0) continue;
    const percent = (m.value * 100) / run.itemsBefore;
    if (percent > rule.threshold) {
      fired.push({
        rule,
        text: `${m.value} of ${run.itemsBefore} ${run.entity.name} records (${percent.toFixed(1)} %) ${rule.change}${who} (more than ${rule.threshold} %)`,
      });
    }
  }
  return fired;
}

/** Human words for a rule ("More than 10 % of Contact records deleted by one user"). */
export function describeRule(rule: ISmartAlertRule, objectName?: string): string {
  const amount = rule.unit === 'percent' ? `${rule.threshold} % of` : `${rule.threshold}`;
  const records =
    rule.entityExternalId == null ? 'records of any object' : `${objectName ?? rule.entityExternalId} records`;
  const users = rule.users === 'one' ? 'by one user' : 'by all users';
  return `More than ${amount} ${records} ${rule.change} ${users} in a run`;
}

export async function evaluateSmartAlerts(tx: EntityManager, run: RunChanges): Promise<number> {
  const rules = await tx.find(SmartAlertRule, { task: run.task.id, enabled: true }, { orderBy: { id: 'asc' } });
  const fired = firedRules(rules, run);
  for (const { rule, text } of fired) {
    const title = `Smart alert: ${describeRule(rule, run.entity.name)}`;
    await raiseSmartAlert(tx, {
      organizationId: run.task.organization.id,
      key: `rule:${rule.id}:job:${run.jobId}`,
      title,
      message: `The backup of ${run.entity.name} in "${run.task.name}" found ${text}.`,
      task: { id: run.task.id, name: run.task.name },
      at: run.at,
    });
    addActivity(tx, {
      organization: run.task.organization,
      activity: 'Smart alert',
      status: 'warning',
      at: run.at,
      task: run.task,
      entity: run.entity,
      summary: `${title}: ${text}.`,
    });
  }
  return fired.length;
}
