// The second step of signing in: a code from the authenticator app or a recovery code. Wrong
// codes are throttled like wrong passwords, on a counter of their own per account (so signing
// in again with the password does not reset it) and on the address's counter.
import type { EntityManager } from '@mikro-orm/core';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import type { IUser } from './entities.ts';
import {
  ACCOUNT_RULE,
  ADDRESS_RULE,
  addressKey,
  clearFailures,
  lockedFor,
  refundAttempt,
  reserveAttempt,
  secondFactorKey,
} from './throttle.ts';
import { recoveryCodesLeft, useRecoveryCode, verifyTotpCode } from './two-factor.ts';

export type SecondFactorOutcome =
  | { kind: 'ok'; method: 'code' }
  | { kind: 'ok'; method: 'recovery_code'; recoveryCodesLeft: number }
  | { kind: 'failed' }
  | { kind: 'throttled'; retryAfterSeconds: number };

export async function checkSecondFactor(
  em: EntityManager,
  user: IUser,
  cipher: CredentialCipher,
  input: { code: string; method: 'code' | 'recovery_code' },
  ip: string | undefined,
  now: Date,
): Promise<SecondFactorOutcome> {
  const code = { key: secondFactorKey(user.email), rule: ACCOUNT_RULE };
  const address = { key: addressKey(ip), rule: ADDRESS_RULE };
  // Counted before the code is checked, so simultaneous guesses count in full.
  const wait = await reserveAttempt(em, [address, code], now);
  if (wait > 0) return { kind: 'throttled', retryAfterSeconds: wait };
  const ok =
    input.method === 'code'
      ? await verifyTotpCode(em, user, cipher, input.code, now)
      : await useRecoveryCode(em, user, input.code, now);
  if (!ok) {
    // The failure that reaches the limit says so at once.
    const lockedNow = await lockedFor(em, [code.key, address.key], now);
    return lockedNow > 0 ? { kind: 'throttled', retryAfterSeconds: lockedNow } : { kind: 'failed' };
  }
  await clearFailures(em, code.key);
  await refundAttempt(em, address);
  return input.method === 'code'
    ? { kind: 'ok', method: 'code' }
    : { kind: 'ok', method: 'recovery_code', recoveryCodesLeft: await recoveryCodesLeft(em, user) };
}
