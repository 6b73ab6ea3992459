// IP restrictions of an organization: named lists of trusted addresses, ranges and CIDR blocks.
// When enabled, the organization's own users are let in only from a trusted address, at
// sign-in and on every request. Enabling is refused unless the caller's address is covered,
// so an administrator cannot lock themselves out by mistake.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { AppError, NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { type IIpRule, IpRule } from './entities.ts';
import { addressMatches, IpEntryError, normalizeEntry } from './ip-match.ts';

export const MAX_ENTRIES_PER_RULE = 100;

export const ipRuleInputSchema = z.object({
  description: z
    .string()
    .trim()
    .max(200, { error: 'Use at most 200 characters.' })
    .transform((v) => (v === '' ? null : v))
    .nullable()
    .optional(),
  /** Comma- or newline-separated addresses, CIDR blocks or from-to ranges. */
  addresses: z.string({ error: 'Enter at least one address.' }),
});
export type IpRuleInput = z.input<typeof ipRuleInputSchema>;

/** Parses the entries of a rule; every problem is reported in the `addresses` field. */
export function parseEntries(text: string): string[] {
  const parts = text
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new ValidationError({ addresses: 'Enter at least one address.' });
  if (parts.length > MAX_ENTRIES_PER_RULE) {
    throw new ValidationError({ addresses: `Use at most ${MAX_ENTRIES_PER_RULE} entries in one rule.` });
  }
  const entries: string[] = [];
  for (const part of parts) {
    try {
      const { entry } = normalizeEntry(part);
      if (!entries.includes(entry)) entries.push(entry);
    } catch (err) {
      if (err instanceof IpEntryError) throw new ValidationError({ addresses: err.message });
      throw err;
    }
  }
  return entries;
}

function validate(input: IpRuleInput): { description: string | null; entries: string[] } {
  const parsed = ipRuleInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError({ addresses: 'Enter at least one address.' });
  return { description: parsed.data.description ?? null, entries: parseEntries(parsed.data.addresses) };
}

export async function listIpRules(em: EntityManager, org: IOrganization): Promise<IIpRule[]> {
  return em.find(IpRule, { organization: org.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

export async function findIpRule(em: EntityManager, org: IOrganization, id: string): Promise<IIpRule> {
  const rule =
    typeof id === 'string' && id.length <= 36 ? await em.findOne(IpRule, { id, organization: org.id }) : null;
  if (!rule) throw new NotFoundError('There is no such IP rule.');
  return rule;
}

export async function addIpRule(em: EntityManager, org: IOrganization, input: IpRuleInput): Promise<IIpRule> {
  const { description, entries } = validate(input);
  const rule = em.create(IpRule, { organization: org, description, entries });
  await em.flush();
  return rule;
}

/**
 * Changes a rule. While restrictions are on, the caller must still be covered afterwards.
 */
export async function updateIpRule(
  em: EntityManager,
  org: IOrganization,
  rule: IIpRule,
  input: IpRuleInput,
  callerIp: string | undefined,
): Promise<void> {
  const { description, entries } = validate(input);
  if (org.ipRestrictionsEnabled) {
    const others = (await listIpRules(em, org)).filter((r) => r.id !== rule.id).flatMap((r) => r.entries);
    if (!addressMatches(callerIp, [...others, ...entries])) throw lockoutError(callerIp);
  }
  rule.description = description;
  rule.entries = entries;
  await em.flush();
}

export async function deleteIpRule(
  em: EntityManager,
  org: IOrganization,
  rule: IIpRule,
  callerIp: string | undefined,
): Promise<void> {
  if (org.ipRestrictionsEnabled) {
    const rest = (await listIpRules(em, org)).filter((r) => r.id !== rule.id);
    if (rest.length === 0) {
      throw new AppError(
        'ip_rules_required',
        'This is the last trusted address rule. Turn IP restrictions off before deleting it.',
        409,
      );
    }
    if (
      !addressMatches(
        callerIp,
        rest.flatMap((r) => r.entries),
      )
    )
      throw lockoutError(callerIp);
  }
  em.remove(rule);
  await em.flush();
}

function lockoutError(callerIp: string | undefined): AppError {
  return new AppError(
    'would_lock_out',
    `Your own address (${callerIp ?? 'unknown'}) would no longer be trusted. Add it to a rule first.`,
    409,
  );
}

export async function setIpRestrictions(
  em: EntityManager,
  org: IOrganization,
  enabled: boolean,
  callerIp: string | undefined,
): Promise<void> {
  if (enabled) {
    const entries = (await listIpRules(em, org)).flatMap((r) => r.entries);
    if (entries.length === 0) {
      throw new AppError('ip_rules_required', 'Add at least one trusted address before turning restrictions on.', 409);
    }
    if (!addressMatches(callerIp, entries)) {
      throw new AppError(
        'caller_not_trusted',
        `Your own address (${callerIp ?? 'unknown'}) is not in the trusted list, so restrictions cannot be turned on. Add it first.`,
        409,
      );
    }
  }
  org.ipRestrictionsEnabled = enabled;
  await em.flush();
}

/** Whether a user of `org` may reach the appliance from this address. */
export async function addressAllowed(em: EntityManager, org: IOrganization, ip: string | undefined): Promise<boolean> {
  if (!org.ipRestrictionsEnabled) return true;
  return addressMatches(
    ip,
    (await listIpRules(em, org)).flatMap((r) => r.entries),
  );
}
