import { describe, expect, it } from 'vitest';
import { hashPassword, passwordProblem, verifyPassword } from '../../../core/identity/password.ts';

describe('password hashing', () => {
  it('verifies the right password and rejects others', async () => {
    const hash = await hashPassword('Correct-Horse-42-battery');
    expect(hash).toMatch(/^scrypt\$17\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('Correct-Horse-42-battery', hash)).toBe(true);
    expect(await verifyPassword('correct-horse-42-battery', hash)).toBe(false);
    expect(await verifyPassword('Correct-Horse-42-battery', 'bcrypt$whatever')).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('Same-Password-123')).not.toBe(await hashPassword('Same-Password-123'));
  });
});

describe('password strength rule', () => {
  it.each([
    ['Short-1a', 'Use at least 12 characters.'],
    ['alllowercaseletters', 'Mix at least three of: lower-case letters, upper-case letters, digits, symbols.'],
    ['Aaaaaaaaaaaa1', 'Use more varied characters.'],
  ])('rejects %s', (password, message) => {
    expect(passwordProblem(password)).toBe(message);
  });

  it('names every rule a password breaks at once, not one per attempt', () => {
    expect(passwordProblem('aaaaa')).toBe(
      'Use at least 12 characters. Mix at least three of: lower-case letters, upper-case letters, digits, symbols. Use more varied characters.',
    );
  });

  it('rejects a password containing the email name', () => {
    expect(passwordProblem('Jonathan-Secret-99', 'jonathan@example.com')).toBe(
      'The password must not contain your email name.',
    );
  });

  it('accepts a long mixed password', () => {
    expect(passwordProblem('Correct-Horse-42-battery', 'admin@example.com')).toBeUndefined();
  });
});
