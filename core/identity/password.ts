// Password hashing with scrypt (node:crypto), at OWASP's recommended cost: N=2^17, r=8, p=1
// (128 MiB, a few hundred ms here). The hash is self-describing, so the cost can rise later
// and old hashes still verify:  scrypt$<log2 N>$<r>$<p>$<salt b64>$<key b64>
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const KEY_BYTES = 32;
const SALT_BYTES = 16;
export const DEFAULT_COST = { log2N: 17, r: 8, p: 1 } as const;

// scrypt runs on libuv's thread pool (4 threads by default), which file I/O shares. At most two
// hashes run at once, so a burst of logins queues here instead of starving every other request.
const MAX_CONCURRENT_HASHES = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function withHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, log2N: number, r: number, p: number): Promise<Buffer> {
  if (!(log2N >= 10 && log2N <= 22 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) {
    return Promise.reject(new Error('unsupported scrypt parameters'));
  }
  return withHashSlot(() => deriveNow(password, salt, log2N, r, p));
}

function deriveNow(password: string, salt: Buffer, log2N: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** log2N;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { log2N, r, p } = DEFAULT_COST;
  const key = await derive(password, salt, log2N, r, p);
  return ['scrypt', log2N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, log2N, r, p, saltText, keyText] = stored.split('$');
  if (scheme !== 'scrypt' || !saltText || !keyText) return false;
  // Nothing this long was ever accepted as a password: refuse without spending a hash on it.
  if (password.length > PASSWORD_MAX_LENGTH) return false;
  const expected = Buffer.from(keyText, 'base64');
  const actual = await derive(password, Buffer.from(saltText, 'base64'), Number(log2N), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * What a login for an unknown email is verified against, so timing does not tell: the default
 * cost's parameters with a random salt and a random key. No derivation is needed to make it (no
 * password derives to a random key), so it costs no 128 MiB scrypt at start-up; verifying against
 * it costs what verifying a real hash does.
 */
const decoy = [
  'scrypt',
  DEFAULT_COST.log2N,
  DEFAULT_COST.r,
  DEFAULT_COST.p,
  randomBytes(SALT_BYTES).toString('base64'),
  randomBytes(KEY_BYTES).toString('base64'),
].join('$');
export function decoyHash(): Promise<string> {
  return Promise.resolve(decoy);
}

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

const COMMON = new Set([
  'password1234',
  'passwordpassword',
  '123456789012',
  'qwertyuiopas',
  'administrator',
  'letmein12345',
  'welcome12345',
  'changeme1234',
]);

/** The whole rule in one sentence, shown next to every new-password field before typing. */
export const PASSWORD_RULES =
  'At least 12 characters, mixing three of: lower-case letters, upper-case letters, digits, symbols. Not a common password, and not your email name. A phrase of several words works well.';

/**
 * Says everything that is wrong with the password at once (one sentence per broken rule), or
 * undefined when it is acceptable.
 */
export function passwordProblem(password: string, email?: string): string | undefined {
  const problems: string[] = [];
  if (password.length < PASSWORD_MIN_LENGTH) problems.push(`Use at least ${PASSWORD_MIN_LENGTH} characters.`);
  if (password.length > PASSWORD_MAX_LENGTH) problems.push(`Use at most ${PASSWORD_MAX_LENGTH} characters.`);
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3) problems.push('Mix at least three of: lower-case letters, upper-case letters, digits, symbols.');
  if (new Set(password).size < 6) problems.push('Use more varied characters.');
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) problems.push('This password is too common.');
  const name = email?.split('@')[0]?.toLowerCase();
  if (name && name.length >= 4 && lower.includes(name)) problems.push('The password must not contain your email name.');
  return problems.length > 0 ? problems.join(' ') : undefined;
}
