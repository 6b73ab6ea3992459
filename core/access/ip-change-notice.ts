// Every change to an organization's IP restrictions is audited and mailed to the
// organization's active administrators, so a change nobody expected gets noticed.
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { type IOrganization, User } from '../identity/entities.ts';
import type { Mailer } from '../mail/mailer.ts';

export async function recordIpRestrictionChange(
  em: EntityManager,
  mailer: Mailer,
  org: IOrganization,
  summary: string,
  actor: AuditActor,
  now: Date,
): Promise<void> {
  await recordAudit(em, {
    organization: org,
    activity: 'IP restrictions changed',
    account: org.name,
    description: summary,
    actor,
  });
  const admins = await em.find(User, { organization: org.id, role: 'administrator', status: 'active' });
  for (const admin of admins) {
    await mailer.send(em, {
      to: admin.email,
      subject: `IP restrictions of ${org.name} changed`,
      text: `${summary}.\n\nChanged by ${actor.label ?? 'an unknown user'} from ${actor.ip ?? 'an unknown address'} at ${now.toISOString()}.\n\nIf you did not expect this change, review Settings › IP restrictions and the Security Audit.`,
    });
  }
}
