// What the security routes do after a credential changes: name the actor for the audit log
// and tell the user by mail. Shared by the sign-in steps and Settings › Security.
import type { Context } from 'hono';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import type { IOrganization, IUser } from '../identity/entities.ts';
import { passwordProblem } from '../identity/password.ts';
import { type SecurityChange, securityChangeMail } from '../identity/security-mail.ts';

export function actorFor(c: Context<AppEnv>, deps: AppDeps, user: IUser): AuditActor {
  return { label: user.email, id: user.id, ip: clientIp(c, deps.config), userAgent: c.req.header('user-agent') };
}

export async function mailSecurityChange(
  c: Context<AppEnv>,
  deps: AppDeps,
  user: IUser,
  change: SecurityChange,
  extra: { recoveryCodesLeft?: number } = {},
): Promise<void> {
  const mail = securityChangeMail(user, change, { at: deps.now(), ip: clientIp(c, deps.config), ...extra });
  await deps.mailer.send(c.get('em'), mail);
}

/** A text file of recovery codes as a data: link, so the page can offer a download without script. */
export function recoveryCodesDownload(email: string, codes: string[]): string {
  const text = [`Holdfast recovery codes for ${email}`, 'Each code works once.', '', ...codes, ''].join('\n');
  return `data:text/plain;charset=utf-8,${encodeURIComponent(text)}`;
}

/**
 * The inline check of a new password as it is typed (htmx swaps the answer in under the field):
 * the strength rule only; that it differs from the old one is checked when the form is sent.
 */
export function newPasswordFeedback(c: Context<AppEnv>, deps: AppDeps, user: IUser, password: string): Response {
  const problem = password ? passwordProblem(password, user.email) : undefined;
  return c.html(deps.views.render('partials/password-feedback.njk', { name: 'newPassword', problem }));
}

/** A change to the user's two-factor: one Security Audit entry and one notice mailed to them. */
export async function announceTwoFactorChange(
  c: Context<AppEnv>,
  deps: AppDeps,
  user: IUser,
  description: string,
  change: SecurityChange,
  extra: { recoveryCodesLeft?: number } = {},
): Promise<void> {
  await recordAudit(c.get('em'), {
    organization: user.organization as IOrganization,
    activity: 'Two-factor changed',
    account: user.email,
    description,
    actor: actorFor(c, deps, user),
  });
  await mailSecurityChange(c, deps, user, change, extra);
}
