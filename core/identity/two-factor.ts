// Two-factor authentication with time-based one-time codes (RFC 6238: SHA-1, 6 digits, 30 s,
// what authenticator apps expect). The secret is sealed with the credential cipher, bound to
// the user's id. A code is accepted one step either side of now, and a step is never accepted
// twice: the last accepted step is stored and only later steps pass, with a conditional update
// so two requests racing with the same code cannot both win. The code that confirms enrolment
// is not a use: the first sign-in may use the same step once. Recovery codes are stored as
// SHA-256 (they are long random strings) and each works once.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { HOTP, Secret, TOTP } from 'otpauth';
import { ConflictError, ValidationError } from '../errors.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { confirmCurrentPassword, TooManyAttemptsError } from './current-password.ts';
import { type IUser, RecoveryCode, User } from './entities.ts';
import { ACCOUNT_RULE, clearFailures, reserveAttempt, secondFactorKey } from './throttle.ts';

export const TOTP_ISSUER = 'Holdfast';
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (clock drift, slow typing). */
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

const SECRET_BYTES = 20;
// No 0/o, 1/l/i: recovery codes are read off paper.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Throttle counter for wrong codes, apart from the password's so a new sign-in does not reset it. */
export { secondFactorKey } from './throttle.ts';

function cipherContext(userId: string): string {
  return `totp:${userId}`;
}

/** A new random secret, base32 (the form apps and the otpauth:// URI use). */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The base32 secret in groups of four, for typing into an app by hand. */
export function groupedSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

export function totpStep(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of one time step (used by the checks below and by tests). */
export function codeForStep(secret: string, step: number): string {
  return HOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: TOTP_DIGITS, counter: step });
}

export function normalizeCode(input: string): string {
  return input.replace(/[\s-]/g, '');
}

/**
 * The step a code belongs to when it is valid now (±1 step) and later than the last accepted
 * step; otherwise null. Every candidate is compared, in constant time, whatever matched.
 */
export function matchingStep(secret: string, code: string, now: Date, lastStep: number | null): number | null {
  const given = normalizeCode(code);
  if (!/^\d{6}$/.test(given)) return null;
  const current = totpStep(now);
  let found: number | null = null;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    const same = timingSafeEqual(Buffer.from(codeForStep(secret, step)), Buffer.from(given));
    if (same && (lastStep === null || step > lastStep) && found === null) found = step;
  }
  return found;
}

export function otpauthUri(secret: string, email: string): string {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: `${TOTP_ISSUER} (${email})`,
    issuerInLabel: false,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}

/** The URI as a QR code, as SVG markup (attributes only, no inline style: fits the CSP). */
export async function qrCodeSvg(uri: string): Promise<string> {
  // Loaded when a user sets up two-factor sign-in, not with the server.
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

export function newRecoveryCode(): string {
  const chars = Array.from({ length: 12 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4, 8).join('')}-${chars.slice(8).join('')}`;
}

export function recoveryCodeHash(code: string): string {
  return createHash('sha256').update(normalizeCode(code).toLowerCase()).digest('hex');
}

/** A recovery code's shape (dashes and spaces optional), so anything else costs no lookup. */
export function looksLikeRecoveryCode(input: string): boolean {
  return /^[a-z0-9]{12}$/.test(normalizeCode(input).toLowerCase());
}

// ---- Stored state -----------------------------------------------------------------------

export function twoFactorEnabled(user: IUser): boolean {
  return user.totpEnabledAt != null;
}

function secretOf(user: IUser, cipher: CredentialCipher): string {
  if (!user.totpSecret) throw new ConflictError('two_factor_not_started', 'Two-factor authentication is not set up.');
  return cipher.decrypt(user.totpSecret, cipherContext(user.id));
}

/**
 * The secret of an enrolment in progress: the one already started (so reloading the page does
 * not invalidate a code already scanned), or a new one.
 */
export async function pendingEnrolment(em: EntityManager, user: IUser, cipher: CredentialCipher): Promise<string> {
  if (twoFactorEnabled(user)) {
    throw new ConflictError('two_factor_enabled', 'Two-factor authentication is already on.');
  }
  if (user.totpSecret) {
    try {
      return secretOf(user, cipher);
    } catch {
      // Sealed under another master key or damaged: start over with a new secret.
    }
  }
  const secret = newTotpSecret();
  user.totpSecret = cipher.encrypt(secret, cipherContext(user.id));
  user.totpLastStep = null;
  await em.flush();
  return secret;
}

async function replaceRecoveryCodes(em: EntityManager, user: IUser): Promise<string[]> {
  await em.nativeDelete(RecoveryCode, { user: user.id });
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  for (const code of codes) em.create(RecoveryCode, { user, codeHash: recoveryCodeHash(code), usedAt: null });
  await em.flush();
  return codes;
}

/** Accepts the step if no request has accepted it (or a later one) yet. */
async function claimStep(em: EntityManager, user: IUser, step: number): Promise<boolean> {
  const claimed = await em.nativeUpdate(
    User,
    { id: user.id, $or: [{ totpLastStep: null }, { totpLastStep: { $lt: step } }] },
    { totpLastStep: step },
  );
  if (claimed === 1) user.totpLastStep = step;
  return claimed === 1;
}

const WRONG_CODE = 'That code is not right. Enter the 6-digit code your app shows now.';

/** Finishes enrolment with a code from the app; returns the recovery codes, shown once. */
export async function confirmEnrolment(
  em: EntityManager,
  user: IUser,
  cipher: CredentialCipher,
  code: string,
  now: Date,
): Promise<string[]> {
  if (twoFactorEnabled(user)) {
    throw new ConflictError('two_factor_enabled', 'Two-factor authentication is already on.');
  }
  if (!normalizeCode(code)) throw new ValidationError({ code: 'Enter the 6-digit code from your app.' });
  const step = matchingStep(secretOf(user, cipher), code, now, user.totpLastStep ?? null);
  if (step === null) throw new ValidationError({ code: WRONG_CODE });
  // Enabling does not spend the step: the sign-in right after may use the code the app still
  // shows, once. Codes of earlier steps stay refused. The condition lets one of two racing
  // confirmations win (the other's recovery codes would be lost).
  const enabled = await em.nativeUpdate(
    User,
    { id: user.id, totpEnabledAt: null },
    { totpEnabledAt: now, totpLastStep: step - 1 },
  );
  if (enabled !== 1) throw new ConflictError('two_factor_enabled', 'Two-factor authentication is already on.');
  user.totpEnabledAt = now;
  user.totpLastStep = step - 1;
  return replaceRecoveryCodes(em, user);
}

/** Checks a code from the app at sign-in (or to confirm an action); a code works once. */
export async function verifyTotpCode(
  em: EntityManager,
  user: IUser,
  cipher: CredentialCipher,
  code: string,
  now: Date,
): Promise<boolean> {
  if (!twoFactorEnabled(user)) return false;
  const step = matchingStep(secretOf(user, cipher), code, now, user.totpLastStep ?? null);
  return step !== null && (await claimStep(em, user, step));
}

/** Uses up a recovery code; true when it was one of the user's unused codes. */
export async function useRecoveryCode(em: EntityManager, user: IUser, code: string, now: Date): Promise<boolean> {
  if (!twoFactorEnabled(user) || !looksLikeRecoveryCode(code)) return false;
  const row = await em.findOne(RecoveryCode, { user: user.id, codeHash: recoveryCodeHash(code), usedAt: null });
  if (!row) return false;
  // Conditional, so one code cannot be spent by two racing requests.
  return (await em.nativeUpdate(RecoveryCode, { id: row.id, usedAt: null }, { usedAt: now })) === 1;
}

export async function recoveryCodesLeft(em: EntityManager, user: IUser): Promise<number> {
  return em.count(RecoveryCode, { user: user.id, usedAt: null });
}

/** Turns two-factor off; the current password is required. */
export async function disableTwoFactor(em: EntityManager, user: IUser, password: string, now: Date): Promise<void> {
  if (!twoFactorEnabled(user)) throw new ConflictError('two_factor_disabled', 'Two-factor authentication is off.');
  await confirmCurrentPassword(em, user, password, now);
  user.totpSecret = null;
  user.totpEnabledAt = null;
  user.totpLastStep = null;
  await em.nativeDelete(RecoveryCode, { user: user.id });
  await em.flush();
}

/**
 * An administrator turns off another user's two-factor (a lost phone and lost recovery codes).
 * The user signs in with the password alone, or is asked to enrol again where it is enforced.
 */
export async function resetTwoFactor(em: EntityManager, user: IUser): Promise<void> {
  if (!twoFactorEnabled(user) && !user.totpSecret) {
    throw new ConflictError('two_factor_disabled', `${user.email} has no two-factor authentication to reset.`);
  }
  user.totpSecret = null;
  user.totpEnabledAt = null;
  user.totpLastStep = null;
  await em.nativeDelete(RecoveryCode, { user: user.id });
  await em.flush();
}

/** New recovery codes (the old ones stop working), proven by a code from the app or the password. */
export async function regenerateRecoveryCodes(
  em: EntityManager,
  user: IUser,
  cipher: CredentialCipher,
  proof: { code?: string | undefined; password?: string | undefined },
  now: Date,
): Promise<string[]> {
  if (!twoFactorEnabled(user)) throw new ConflictError('two_factor_disabled', 'Two-factor authentication is off.');
  if (proof.code && normalizeCode(proof.code)) {
    const key = secondFactorKey(user.email);
    const wait = await reserveAttempt(em, [{ key, rule: ACCOUNT_RULE }], now);
    if (wait > 0) throw new TooManyAttemptsError(wait, 'code attempts');
    if (!(await verifyTotpCode(em, user, cipher, proof.code, now))) throw new ValidationError({ code: WRONG_CODE });
    await clearFailures(em, key);
  } else if (proof.password) {
    await confirmCurrentPassword(em, user, proof.password, now);
  } else {
    throw new ValidationError({ code: 'Enter a code from your app, or your password.' });
  }
  return replaceRecoveryCodes(em, user);
}
