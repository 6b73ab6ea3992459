// First-run setup: creates the root organization and its first administrator, exactly once.
// The one-time SystemFact row is inserted in the same transaction, so two racing attempts
// (two browsers, or the CLI and a browser) cannot both succeed: the loser hits its primary key.
// The public address confirmed there is pinned with it (see system/public-url.ts).
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import { type EntityManager, LockWaitTimeoutException, UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import { ConflictError, fieldErrorsFrom, ValidationError } from '../errors.ts';
import { SETUP_COMPLETED, SystemFact } from '../system/entities.ts';
import { PUBLIC_URL_FACT, PUBLIC_URL_HINT, publicOriginOf } from '../system/public-url.ts';
import { type IOrganization, type IUser, Organization, User } from './entities.ts';
import { hashPassword, passwordProblem } from './password.ts';

export const setupInputSchema = z
  .object({
    organizationName: z
      .string({ error: 'Enter the name of your organization.' })
      .trim()
      .min(1, { error: 'Enter the name of your organization.' })
      .max(200, { error: 'Use at most 200 characters.' }),
    email: z
      .string({ error: 'Enter an email address.' })
      .trim()
      .toLowerCase()
      .pipe(z.email({ error: 'Enter a valid email address, like admin@example.com.' }).max(320)),
    password: z.string({ error: 'Choose a password.' }),
    /** Where users reach the appliance: links in mail use it unless HOLDFAST_PUBLIC_URL is set. */
    publicUrl: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined || value.trim() === '') return undefined;
        const origin = publicOriginOf(value);
        if (!origin) ctx.addIssue({ code: 'custom', message: PUBLIC_URL_HINT });
        return origin;
      }),
  })
  .superRefine((input, ctx) => {
    const problem = passwordProblem(input.password, input.email);
    if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
  });

export type SetupInput = z.input<typeof setupInputSchema>;

export class SetupAlreadyCompleteError extends ConflictError {
  constructor() {
    super('setup_complete', 'Setup has already been completed.');
    this.name = 'SetupAlreadyCompleteError';
  }
}

export async function isSetupComplete(em: EntityManager): Promise<boolean> {
  return (await em.fork().count(SystemFact, { key: SETUP_COMPLETED })) > 0;
}

export async function completeSetup(
  em: EntityManager,
  input: SetupInput,
): Promise<{ organization: IOrganization; user: IUser }> {
  const parsed = setupInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const { organizationName, email, password, publicUrl } = parsed.data;
  if (await isSetupComplete(em)) throw new SetupAlreadyCompleteError();
  const passwordHash = await hashPassword(password);
  // Another process (the CLI, a second appliance) may hold the write lock at the same moment;
  // SQLite then refuses at once rather than wait. Retry a few times: the retry sees its result.
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.fork().transactional(async (tx) => {
        if ((await tx.count(SystemFact, { key: SETUP_COMPLETED })) > 0) throw new SetupAlreadyCompleteError();
        const id = randomUUID();
        const organization = tx.create(Organization, {
          id,
          name: organizationName,
          kind: 'root',
          parent: null,
          path: `/${id}/`,
        });
        const now = new Date();
        const user = tx.create(User, {
          organization,
          email,
          passwordHash,
          passwordChangedAt: now,
          emailConfirmedAt: now,
          role: 'administrator',
          lastLoginAt: null,
        });
        tx.create(SystemFact, { key: SETUP_COMPLETED, value: user.id });
        if (publicUrl) tx.create(SystemFact, { key: PUBLIC_URL_FACT, value: publicUrl });
        await tx.flush();
        return { organization, user };
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new SetupAlreadyCompleteError();
      if (err instanceof LockWaitTimeoutException && attempt < 20) {
        await setTimeout(50 + Math.random() * 100);
        continue;
      }
      throw err;
    }
  }
}
