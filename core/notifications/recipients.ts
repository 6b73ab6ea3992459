// Who receives notifications: recipients per organization, each subscribed to some types, and
// the inheritance rule. A notification about an organization goes to that organization's
// recipients of its type; when it has none for the type, to the nearest organization above it
// (partner, then distributor, then root) that has some. So recipients at a partner receive a
// type for all its customers, unless a customer has its own recipients for that type.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import {
  type INotificationRecipient,
  NOTIFICATION_TYPES,
  NotificationRecipient,
  type NotificationType,
} from './entities.ts';

export const recipientInputSchema = z.object({
  email: z
    .string({ error: 'Enter an email address.' })
    .trim()
    .pipe(z.email({ error: 'Enter a valid email address, like it@example.com.' }).max(320)),
  displayName: z.string().trim().max(200, { error: 'Use at most 200 characters.' }).default(''),
  types: z
    .array(z.enum(NOTIFICATION_TYPES, { error: 'Unknown notification type.' }))
    .min(1, { error: 'Choose at least one notification type.' }),
});
export type RecipientInput = z.input<typeof recipientInputSchema>;

function parse(input: RecipientInput) {
  const parsed = recipientInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const data = parsed.data;
  return {
    email: data.email,
    emailKey: data.email.toLowerCase(),
    // Mail greets the recipient by name; the address stands in when none is given.
    displayName: data.displayName || data.email,
    types: NOTIFICATION_TYPES.filter((t) => data.types.includes(t)),
  };
}

export async function listRecipients(em: EntityManager, org: IOrganization): Promise<INotificationRecipient[]> {
  return em.find(NotificationRecipient, { organization: org.id }, { orderBy: { emailKey: 'asc', id: 'asc' } });
}

/** One recipient of `org`; another organization's id reads as missing. */
export async function findRecipient(
  em: EntityManager,
  org: IOrganization,
  id: number,
): Promise<INotificationRecipient> {
  const found = Number.isSafeInteger(id) ? await em.findOne(NotificationRecipient, { id, organization: org.id }) : null;
  if (!found) throw new NotFoundError('No such notification recipient.');
  return found;
}

async function refuseDuplicate(em: EntityManager, org: IOrganization, emailKey: string, except?: number) {
  const other = await em.findOne(NotificationRecipient, { organization: org.id, emailKey });
  if (other && other.id !== except) {
    throw new ValidationError({ email: 'This address is already a recipient here; edit it instead.' });
  }
}

export async function createRecipient(
  em: EntityManager,
  org: IOrganization,
  input: RecipientInput,
  now: Date,
): Promise<INotificationRecipient> {
  const data = parse(input);
  await refuseDuplicate(em, org, data.emailKey);
  const recipient = em.create(NotificationRecipient, { organization: org, ...data, createdAt: now });
  await em.flush();
  return recipient;
}

export async function updateRecipient(
  em: EntityManager,
  org: IOrganization,
  id: number,
  input: RecipientInput,
): Promise<INotificationRecipient> {
  const recipient = await findRecipient(em, org, id);
  const data = parse(input);
  await refuseDuplicate(em, org, data.emailKey, recipient.id);
  Object.assign(recipient, data);
  await em.flush();
  return recipient;
}

export async function deleteRecipient(em: EntityManager, org: IOrganization, id: number): Promise<void> {
  const recipient = await findRecipient(em, org, id);
  em.remove(recipient);
  await em.flush();
}

export interface Addressee {
  email: string;
  displayName: string;
  /** The organization whose recipient list it came from (the event's or one above it). */
  organizationId: string;
}

/** Who receives a notification of `type` about `organizationId`: the inheritance rule above. */
export async function recipientsFor(
  em: EntityManager,
  organizationId: string,
  type: NotificationType,
): Promise<Addressee[]> {
  const org = await em.findOne(Organization, { id: organizationId }, { fields: ['path', 'partnerAccessRemovedAt'] });
  if (!org) return [];
  // The path lists the ids from the root down to the organization: walk it bottom-up. A customer
  // that removed its partner's access tells only its own recipients (core/tenancy/partner-access.ts).
  const chain = org.partnerAccessRemovedAt ? [org.id] : org.path.split('/').filter(Boolean).reverse();
  const all = await em.find(NotificationRecipient, { organization: { $in: chain } }, { orderBy: { id: 'asc' } });
  for (const id of chain) {
    const here = all.filter((r) => r.organization.id === id && r.types.includes(type));
    if (here.length > 0) {
      return here.map((r) => ({ email: r.email, displayName: r.displayName, organizationId: id }));
    }
  }
  return [];
}
