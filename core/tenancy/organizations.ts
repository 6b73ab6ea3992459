// The organization tree: root (the operator) → distributors → partners → customer accounts,
// with direct customers under any non-customer node. Each node stores the ids from the root
// down to itself (`path`), so "is X inside Y" and "everything under Y" are prefix tests that
// work the same on SQLite and PostgreSQL.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { z } from 'zod';
import { AppError, fieldErrorsFrom, ValidationError } from '../errors.ts';
import { type IOrganization, Organization, type OrganizationKind } from '../identity/entities.ts';
import { isCountryCode } from './countries.ts';

/** What may hang under each kind. Nothing moves between trees once created. */
export const CHILD_KINDS: Record<OrganizationKind, readonly OrganizationKind[]> = {
  root: ['distributor', 'partner', 'customer'],
  distributor: ['partner', 'customer'],
  partner: ['customer'],
  customer: [],
};

export const KIND_LABELS: Record<OrganizationKind, string> = {
  root: 'Appliance owner',
  distributor: 'Distributor',
  partner: 'Partner',
  customer: 'Customer account',
};

/** Days between a confirmed removal and the purge of the account's data. */
export const REMOVAL_GRACE_DAYS = 7;
export const REMOVAL_CONFIRMATION = 'I approve the removal of my data';

const optionalText = (max: number, label: string) =>
  z
    .string()
    .trim()
    .max(max, { error: `${label} can be at most ${max} characters.` })
    .transform((v) => (v === '' ? null : v))
    .nullable()
    .optional();

export const organizationDetailsSchema = z.object({
  name: z
    .string({ error: 'Enter a name.' })
    .trim()
    .min(1, { error: 'Enter a name.' })
    .max(200, { error: 'Use at most 200 characters.' }),
  contactName: optionalText(200, 'The contact name'),
  contactEmail: z
    .string()
    .trim()
    .toLowerCase()
    .transform((v) => (v === '' ? null : v))
    .pipe(z.email({ error: 'Enter a valid email address, like it@example.com.' }).max(320).nullable())
    .nullable()
    .optional(),
  phone: z
    .string()
    .trim()
    .max(50, { error: 'Use at most 50 characters.' })
    .regex(/^[0-9+()\-.\s]*$/, { error: 'Use digits, spaces and + ( ) - . only.' })
    .transform((v) => (v === '' ? null : v))
    .nullable()
    .optional(),
  address: optionalText(500, 'The address'),
  country: z
    .string()
    .trim()
    .toUpperCase()
    .refine((v) => v === '' || isCountryCode(v), { error: 'Choose a country from the list.' })
    .transform((v) => (v === '' ? null : v))
    .nullable()
    .optional(),
});
export type OrganizationDetails = z.input<typeof organizationDetailsSchema>;

export const newOrganizationSchema = organizationDetailsSchema.extend({
  kind: z.enum(['distributor', 'partner', 'customer'], { error: 'Choose what kind of organization to add.' }),
});
export type NewOrganization = z.input<typeof newOrganizationSchema>;

export function isWithin(org: IOrganization, ancestor: IOrganization): boolean {
  return org.path.startsWith(ancestor.path);
}

/** Filter for the strict descendants of a node. */
export function descendantsOf(ancestor: IOrganization): FilterQuery<IOrganization> {
  return { path: pathsUnder(ancestor.path), id: { $ne: ancestor.id } };
}

/**
 * The paths that start with `path` (the node and its subtree) as a range, which SQLite answers
 * from the index on `path`; a `LIKE 'path%'` is case-insensitive and reads every row. A path
 * ends with '/', so the paths under it sort before the same text ending with '0' ('/' + 1).
 */
export function pathsUnder(path: string): { $gte: string; $lt: string } {
  if (!path.endsWith('/')) throw new Error(`not an organization path: ${path}`);
  return { $gte: likeSafePath(path), $lt: `${path.slice(0, -1)}0` };
}

/**
 * Paths are made of UUIDs and slashes, which hold no LIKE wildcard (`%`, `_`), so a path can be
 * used as a LIKE prefix as it is. Checked, so a change of id format cannot widen a filter silently.
 */
export function likeSafePath(text: string): string {
  if (!/^[0-9a-zA-Z/-]*$/.test(text)) throw new Error(`not an organization path: ${text}`);
  return text;
}

/** The ids on a node's path, root first. */
export function ancestorIds(org: IOrganization): string[] {
  return org.path.split('/').filter(Boolean);
}

export async function createOrganization(
  em: EntityManager,
  parent: IOrganization,
  input: NewOrganization,
): Promise<IOrganization> {
  const parsed = newOrganizationSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const { kind, ...details } = parsed.data;
  if (!CHILD_KINDS[parent.kind].includes(kind)) {
    throw new ValidationError({
      kind: `A ${KIND_LABELS[parent.kind].toLowerCase()} cannot hold a ${KIND_LABELS[kind].toLowerCase()}.`,
    });
  }
  if (parent.status !== 'active') {
    throw new AppError('organization_removed', 'This organization is being removed; nothing can be added to it.', 409);
  }
  await checkContactEmailFree(em, kind, parent.id, details.contactEmail ?? null, null);
  const id = crypto.randomUUID();
  const org = em.create(Organization, {
    id,
    kind,
    parent,
    path: `${parent.path}${id}/`,
    name: details.name,
    contactName: details.contactName ?? null,
    contactEmail: details.contactEmail ?? null,
    phone: details.phone ?? null,
    address: details.address ?? null,
    country: details.country ?? null,
  });
  await em.flush();
  return org;
}

export const CONTACT_EMAIL_TAKEN =
  'Another customer account of this portal uses this contact email; each customer needs its own (an alias works).';

/**
 * Seed 000 §5: a customer's contact email cannot be reused for another customer of the same
 * portal. Checked among the customers of the same parent only, so the answer tells nothing
 * about other tenants.
 */
async function checkContactEmailFree(
  em: EntityManager,
  kind: OrganizationKind,
  parentId: string | null,
  email: string | null,
  selfId: string | null,
): Promise<void> {
  if (kind !== 'customer' || !email || !parentId) return;
  const taken = await em.count(Organization, {
    kind: 'customer',
    parent: parentId,
    contactEmail: email,
    ...(selfId ? { id: { $ne: selfId } } : {}),
  });
  if (taken > 0) throw new ValidationError({ contactEmail: CONTACT_EMAIL_TAKEN });
}

/** Applies new details; returns the names of the fields that changed (for the audit entry). */
export async function updateOrganization(
  em: EntityManager,
  org: IOrganization,
  input: OrganizationDetails,
): Promise<string[]> {
  const parsed = organizationDetailsSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const changed: string[] = [];
  const next = {
    name: parsed.data.name,
    contactName: parsed.data.contactName ?? null,
    contactEmail: parsed.data.contactEmail ?? null,
    phone: parsed.data.phone ?? null,
    // Left out of the input: kept as they are (forms and API calls that do not know them).
    address: input.address === undefined ? (org.address ?? null) : (parsed.data.address ?? null),
    country: input.country === undefined ? (org.country ?? null) : (parsed.data.country ?? null),
  };
  const parentId = (org.parent as IOrganization | null | undefined)?.id ?? null;
  if (next.contactEmail !== org.contactEmail) {
    await checkContactEmailFree(em, org.kind, parentId, next.contactEmail, org.id);
  }
  for (const [key, value] of Object.entries(next) as [keyof typeof next, string | null][]) {
    if (org[key] !== value) {
      changed.push(key);
      (org as Record<string, unknown>)[key] = value;
    }
  }
  await em.flush();
  return changed;
}
