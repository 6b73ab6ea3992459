// The message a user gets when a credential of theirs changes, so a change they did not make
// does not go unnoticed. It names what changed, when and from where, never the secret itself.
import type { OutgoingMail } from '../mail/mailer.ts';
import type { IUser } from './entities.ts';

export type SecurityChange =
  | 'password_changed'
  | 'two_factor_enabled'
  | 'two_factor_disabled'
  | 'recovery_codes_regenerated'
  | 'recovery_code_used';

const SUBJECTS: Record<SecurityChange, string> = {
  password_changed: 'Your Holdfast password was changed',
  two_factor_enabled: 'Two-factor authentication is on for your Holdfast account',
  two_factor_disabled: 'Two-factor authentication was turned off for your Holdfast account',
  recovery_codes_regenerated: 'New recovery codes for your Holdfast account',
  recovery_code_used: 'A recovery code was used to sign in to your Holdfast account',
};

const WHAT: Record<SecurityChange, string> = {
  password_changed: 'The password of your Holdfast account was changed',
  two_factor_enabled: 'Two-factor authentication was turned on for your Holdfast account',
  two_factor_disabled: 'Two-factor authentication was turned off for your Holdfast account',
  recovery_codes_regenerated:
    'New recovery codes were made for your Holdfast account; the previous ones no longer work',
  recovery_code_used: 'A recovery code was used to sign in to your Holdfast account',
};

function stamp(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function securityChangeMail(
  user: IUser,
  change: SecurityChange,
  context: { at: Date; ip?: string | undefined; recoveryCodesLeft?: number | undefined },
): OutgoingMail {
  const lines = [
    'Hello,',
    '',
    `${WHAT[change]} (${user.email}) on ${stamp(context.at)} from ${context.ip ?? 'an unknown address'}.`,
  ];
  if (context.recoveryCodesLeft !== undefined) {
    lines.push(
      '',
      `You have ${context.recoveryCodesLeft} unused recovery code${context.recoveryCodesLeft === 1 ? '' : 's'} left. Make new ones under Settings › Security.`,
    );
  }
  lines.push(
    '',
    'If this was you, there is nothing to do. If it was not, change your password at once and tell your administrator.',
  );
  return { to: user.email, subject: SUBJECTS[change], text: lines.join('\n') };
}
