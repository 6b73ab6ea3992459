// TOTP logic: the ±1 step window, replay refusal, recovery codes, and what turning it off needs.
import type { EntityManager } from '@mikro-orm/core';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../core/errors.ts';
import { type IUser, RecoveryCode, User } from '../../../core/identity/entities.ts';
import {
  codeForStep,
  confirmEnrolment,
  disableTwoFactor,
  groupedSecret,
  matchingStep,
  newRecoveryCode,
  newTotpSecret,
  otpauthUri,
  pendingEnrolment,
  qrCodeSvg,
  recoveryCodeHash,
  recoveryCodesLeft,
  regenerateRecoveryCodes,
  totpStep,
  useRecoveryCode,
  verifyTotpCode,
} from '../../../core/identity/two-factor.ts';
import type { CredentialCipher } from '../../../core/secrets/credential-cipher.ts';
import { ADMIN, completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';

const T0 = new Date('2026-11-22T10:00:10Z');
const at = (steps: number) => new Date(T0.getTime() + steps * 30_000);

describe('TOTP codes', () => {
  const secret = newTotpSecret();

  it('makes 20-byte base32 secrets, different each time', () => {
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(secret).bytes).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(secret);
    expect(groupedSecret('ABCDEFGHIJKL')).toBe('ABCD EFGH IJKL');
  });

  it('agrees with what an authenticator app computes (SHA-1, 6 digits, 30 s)', () => {
    const app = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
    expect(codeForStep(secret, totpStep(T0))).toBe(app.generate({ timestamp: T0.getTime() }));
    // RFC 6238 test vector (SHA-1 seed "12345678901234567890", T = 59 s → 94287082, last 6 digits).
    const rfc = Secret.fromLatin1('12345678901234567890').base32;
    expect(codeForStep(rfc, totpStep(new Date(59_000)))).toBe('287082');
  });

  it('accepts the code of the current step and one step either side', () => {
    const now = totpStep(T0);
    for (const delta of [-1, 0, 1]) {
      expect(matchingStep(secret, codeForStep(secret, now + delta), T0, null)).toBe(now + delta);
    }
  });

  it('refuses codes two steps away or more', () => {
    const now = totpStep(T0);
    for (const delta of [-3, -2, 2, 3]) {
      const code = codeForStep(secret, now + delta);
      // Skip the rare case where a far code equals a near one by chance.
      const near = [-1, 0, 1].map((d) => codeForStep(secret, now + d));
      if (!near.includes(code)) expect(matchingStep(secret, code, T0, null)).toBeNull();
    }
  });

  it('refuses a step already used, and any earlier one', () => {
    const now = totpStep(T0);
    expect(matchingStep(secret, codeForStep(secret, now), T0, now)).toBeNull();
    expect(matchingStep(secret, codeForStep(secret, now - 1), T0, now)).toBeNull();
    expect(matchingStep(secret, codeForStep(secret, now + 1), T0, now)).toBe(now + 1);
  });

  it('accepts spaces and ignores anything that is not 6 digits', () => {
    const code = codeForStep(secret, totpStep(T0));
    expect(matchingStep(secret, `${code.slice(0, 3)} ${code.slice(3)}`, T0, null)).toBe(totpStep(T0));
    expect(matchingStep(secret, `${code}0`, T0, null)).toBeNull();
    expect(matchingStep(secret, '', T0, null)).toBeNull();
    expect(matchingStep(secret, 'abcdef', T0, null)).toBeNull();
  });

  it('builds the otpauth URI apps read, labelled "Holdfast (<email>)", and a QR code as plain SVG', async () => {
    const uri = otpauthUri(secret, 'ann@example.com');
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.host).toBe('totp');
    expect(decodeURIComponent(parsed.pathname)).toBe('/Holdfast (ann@example.com)');
    expect(parsed.searchParams.get('secret')).toBe(secret);
    expect(parsed.searchParams.get('issuer')).toBe('Holdfast');
    expect(parsed.searchParams.get('digits')).toBe('6');
    expect(parsed.searchParams.get('period')).toBe('30');
    const svg = await qrCodeSvg(uri);
    expect(svg).toMatch(/^<svg [^>]*viewBox=/);
    expect(svg).not.toContain('style=');
    expect(svg).not.toContain('<script');
  });

  it('makes recovery codes like xxxx-xxxx-xxxx and hashes them whatever the dashes or case', () => {
    const codes = new Set(Array.from({ length: 50 }, newRecoveryCode));
    expect(codes.size).toBe(50);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    const code = [...codes][0] as string;
    expect(recoveryCodeHash(code.toUpperCase().replaceAll('-', ' '))).toBe(recoveryCodeHash(code));
    expect(recoveryCodeHash(code)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('two-factor state of a user', () => {
  let t: TestApp;
  let cipher: CredentialCipher;
  let em: EntityManager;
  let user: IUser;

  beforeAll(async () => {
    t = await createTestApp();
    await completeSetupVia(t.app);
    cipher = t.kernel.deps.credentials;
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    em = t.kernel.orm.em.fork();
    user = await em.findOneOrFail(User, { email: ADMIN.email });
    if (user.totpEnabledAt) await disableTwoFactor(em, user, ADMIN.password, T0);
    user.totpSecret = null;
    user.totpLastStep = null;
    await em.flush();
  });

  async function enrol(now = T0): Promise<{ secret: string; codes: string[] }> {
    const secret = await pendingEnrolment(em, user, cipher);
    const codes = await confirmEnrolment(em, user, cipher, codeForStep(secret, totpStep(now)), now);
    return { secret, codes };
  }

  it('stores the secret encrypted, keeps it across reloads, and turns on only once confirmed', async () => {
    const secret = await pendingEnrolment(em, user, cipher);
    expect(user.totpSecret).not.toContain(secret);
    expect(cipher.decrypt(user.totpSecret as string, `totp:${user.id}`)).toBe(secret);
    expect(user.totpEnabledAt).toBeNull();
    expect(await pendingEnrolment(em, user, cipher)).toBe(secret);
    await expect(confirmEnrolment(em, user, cipher, '000000', T0)).rejects.toBeInstanceOf(ValidationError);
    expect(user.totpEnabledAt).toBeNull();
    const codes = await confirmEnrolment(em, user, cipher, codeForStep(secret, totpStep(T0)), T0);
    expect(user.totpEnabledAt).toEqual(T0);
    expect(codes).toHaveLength(10);
    const stored = await em.find(RecoveryCode, { user: user.id });
    expect(stored.map((r) => r.codeHash).sort()).toEqual(codes.map(recoveryCodeHash).sort());
  });

  it("accepts the enrolment window's code once more at sign-in, then never again", async () => {
    const { secret } = await enrol(at(0));
    // Enabling does not spend the step: a newcomer signs in with the code the app still shows.
    const same = codeForStep(secret, totpStep(at(0)));
    expect(await verifyTotpCode(em, user, cipher, same, at(0))).toBe(true);
    expect(await verifyTotpCode(em, user, cipher, same, at(0))).toBe(false);
  });

  it('refuses at sign-in a code of a step before enrolment', async () => {
    const { secret } = await enrol(at(1));
    const earlier = codeForStep(secret, totpStep(at(0)));
    if (earlier !== codeForStep(secret, totpStep(at(1))) && earlier !== codeForStep(secret, totpStep(at(2))))
      expect(await verifyTotpCode(em, user, cipher, earlier, at(1))).toBe(false);
  });

  it('accepts a code once: the same code again (or an older one) is refused', async () => {
    const { secret } = await enrol(at(0));
    const next = codeForStep(secret, totpStep(at(1)));
    expect(await verifyTotpCode(em, user, cipher, next, at(1))).toBe(true);
    expect(await verifyTotpCode(em, user, cipher, next, at(1))).toBe(false);
    const stored = await t.kernel.orm.em.fork().findOneOrFail(User, { id: user.id });
    expect(stored.totpLastStep).toBe(totpStep(at(1)));
  });

  it('lets only one of two racing requests with the same code through', async () => {
    const { secret } = await enrol(at(0));
    const code = codeForStep(secret, totpStep(at(5)));
    const [a, b] = await Promise.all(
      [1, 2].map(async () => {
        const own = t.kernel.orm.em.fork();
        const copy = await own.findOneOrFail(User, { id: user.id });
        return verifyTotpCode(own, copy, cipher, code, at(5));
      }),
    );
    expect([a, b].sort()).toEqual([false, true]);
  });

  it('accepts ±1 step at sign-in and refuses ±2', async () => {
    const { secret } = await enrol(at(0));
    expect(await verifyTotpCode(em, user, cipher, codeForStep(secret, totpStep(at(9))), at(10))).toBe(true);
    expect(await verifyTotpCode(em, user, cipher, codeForStep(secret, totpStep(at(21))), at(20))).toBe(true);
    const farPast = codeForStep(secret, totpStep(at(28)));
    const nearNow = [29, 30, 31].map((s) => codeForStep(secret, totpStep(at(s))));
    if (!nearNow.includes(farPast)) expect(await verifyTotpCode(em, user, cipher, farPast, at(30))).toBe(false);
    const farFuture = codeForStep(secret, totpStep(at(42)));
    const nearThen = [39, 40, 41].map((s) => codeForStep(secret, totpStep(at(s))));
    if (!nearThen.includes(farFuture)) expect(await verifyTotpCode(em, user, cipher, farFuture, at(40))).toBe(false);
  });

  it('accepts each recovery code once', async () => {
    const { codes } = await enrol();
    const [first, second] = codes as [string, string];
    expect(await useRecoveryCode(em, user, first, T0)).toBe(true);
    expect(await useRecoveryCode(em, user, first, T0)).toBe(false);
    expect(await useRecoveryCode(em, user, second.toUpperCase(), T0)).toBe(true);
    expect(await useRecoveryCode(em, user, 'aaaa-bbbb-cccc', T0)).toBe(false);
    expect(await recoveryCodesLeft(em, user)).toBe(8);
  });

  it('replaces the recovery codes with a code or the password; the old ones stop working', async () => {
    const { secret, codes } = await enrol(at(0));
    const fresh = await regenerateRecoveryCodes(
      em,
      user,
      cipher,
      { code: codeForStep(secret, totpStep(at(1))) },
      at(1),
    );
    expect(await useRecoveryCode(em, user, codes[0] as string, at(1))).toBe(false);
    expect(await useRecoveryCode(em, user, fresh[0] as string, at(1))).toBe(true);
    await expect(
      regenerateRecoveryCodes(em, user, cipher, { password: 'Not-the-password-1' }, at(2)),
    ).rejects.toBeInstanceOf(ValidationError);
    const again = await regenerateRecoveryCodes(em, user, cipher, { password: ADMIN.password }, at(2));
    expect(again).toHaveLength(10);
    expect(await recoveryCodesLeft(em, user)).toBe(10);
  });

  it('cannot be turned off with a wrong password', async () => {
    await enrol();
    await expect(disableTwoFactor(em, user, 'Wrong-password-42', T0)).rejects.toMatchObject({
      fields: { password: 'The password is not right.' },
    });
    await expect(disableTwoFactor(em, user, '', T0)).rejects.toBeInstanceOf(ValidationError);
    const stored = await t.kernel.orm.em.fork().findOneOrFail(User, { id: user.id });
    expect(stored.totpEnabledAt).not.toBeNull();
    await disableTwoFactor(em, user, ADMIN.password, T0);
    const after = await t.kernel.orm.em.fork().findOneOrFail(User, { id: user.id });
    expect(after.totpEnabledAt).toBeNull();
    expect(after.totpSecret).toBeNull();
    expect(await em.count(RecoveryCode, { user: user.id })).toBe(0);
  });
});
