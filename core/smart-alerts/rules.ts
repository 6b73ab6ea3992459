// Adding, editing and removing a task's smart alert rules. The caller has already found the task
// within the principal's reach (another tenant's task is a 404 before this runs); a rule is
// looked up within its task, so a rule id of another task is a 404 too. Domain code: no HTTP.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { AppError, fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import { ALERT_CHANGES, ALERT_UNITS, ALERT_USERS, type ISmartAlertRule, SmartAlertRule } from './entities.ts';

/** At or below this many records (or percent) a rule probably fires after every run (the seed's warning). */
export const WIDE_THRESHOLD = { count: 5, percent: 1 } as const;

const ruleFields = {
  /** An object's external id (its API name); empty or absent: every object. */
  object: z.string().trim().max(500).optional().default(''),
  change: z.enum(ALERT_CHANGES, { error: 'Choose added, updated or deleted.' }),
  unit: z.enum(ALERT_UNITS, { error: 'Choose a number of records or a percentage.' }),
  threshold: z.coerce
    .number({ error: 'Enter a whole number.' })
    .int({ error: 'Enter a whole number.' })
    .min(0, { error: 'Enter 0 or more.' })
    .max(1_000_000_000, { error: 'Enter at most 1000000000.' }),
  enabled: z
    .preprocess((v) => (v === undefined ? undefined : v === true || v === 'true' || v === 'on'), z.boolean())
    .optional(),
};
export const ruleInputSchema = z.object({
  ...ruleFields,
  users: z.enum(ALERT_USERS, { error: 'Choose one user or all users.' }),
});
export const ruleEditSchema = z.object({
  ...ruleFields,
  users: z.enum(ALERT_USERS, { error: 'Choose one user or all users.' }).optional(),
});
export type RuleInput = z.input<typeof ruleInputSchema>;

/** Whether the task's service offers smart alerts; otherwise its alert pages are not there. */
export function offersSmartAlerts(task: { service: string }): boolean {
  return !!servicePlugin(task.service)?.smartAlerts;
}

function requireOffered(task: IBackupTask): void {
  if (!offersSmartAlerts(task)) {
    throw new AppError('not_offered', 'This task’s service does not offer smart alerts.', 409);
  }
}

async function checked(em: EntityManager, task: IBackupTask, data: z.output<typeof ruleEditSchema>) {
  const fields: Record<string, string> = {};
  if (data.unit === 'percent' && data.threshold > 100) fields.threshold = 'Enter a percentage from 0 to 100.';
  let entityExternalId: string | null = null;
  if (data.object) {
    const found = await em.findOne(TaskEntity, { task: task.id, externalId: data.object, deletedAt: null });
    if (!found) fields.object = 'Choose an object of this task.';
    else entityExternalId = found.externalId;
  }
  if (Object.keys(fields).length) throw new ValidationError(fields);
  return { entityExternalId, change: data.change, unit: data.unit, threshold: data.threshold };
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  return parsed.data;
}

export async function listRules(em: EntityManager, task: IBackupTask): Promise<ISmartAlertRule[]> {
  return em.find(SmartAlertRule, { task: task.id }, { orderBy: { id: 'asc' } });
}

export async function findRule(em: EntityManager, task: IBackupTask, id: number | string): Promise<ISmartAlertRule> {
  const n = Number(id);
  const rule = Number.isSafeInteger(n) ? await em.findOne(SmartAlertRule, { id: n, task: task.id }) : null;
  if (!rule) throw new NotFoundError('No such smart alert.');
  return rule;
}

export async function createRule(
  em: EntityManager,
  task: IBackupTask,
  input: RuleInput,
  now: Date,
): Promise<ISmartAlertRule> {
  requireOffered(task);
  const data = parse(ruleInputSchema, input);
  const values = await checked(em, task, data);
  const rule = em.create(SmartAlertRule, {
    task: task.id,
    ...values,
    users: data.users,
    enabled: data.enabled ?? true,
    createdAt: now,
  });
  await em.flush();
  return rule;
}

/** Edits the amount, unit, change, object and on/off; one user vs all users is fixed (the seed). */
export async function updateRule(
  em: EntityManager,
  task: IBackupTask,
  id: number | string,
  input: Partial<RuleInput>,
): Promise<ISmartAlertRule> {
  requireOffered(task);
  const rule = await findRule(em, task, id);
  const data = parse(ruleEditSchema, {
    object: rule.entityExternalId ?? '',
    change: rule.change,
    unit: rule.unit,
    threshold: rule.threshold,
    ...input,
  });
  if (data.users && data.users !== rule.users) {
    throw new ValidationError({
      users: 'One user or all users cannot be changed: add a new alert instead.',
    });
  }
  Object.assign(rule, await checked(em, task, data));
  if (data.enabled !== undefined) rule.enabled = data.enabled;
  await em.flush();
  return rule;
}

export async function deleteRule(em: EntityManager, task: IBackupTask, id: number | string): Promise<void> {
  const rule = await findRule(em, task, id);
  em.remove(rule);
  await em.flush();
}

/** Whether the rule's amount is so low that it will probably fire after every run. */
export function isWide(rule: { unit: 'count' | 'percent'; threshold: number }): boolean {
  return rule.threshold <= WIDE_THRESHOLD[rule.unit];
}
