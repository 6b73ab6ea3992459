// The appliance master key encrypts credentials stored in the database (SaaS tokens, storage
// keys). It comes from HOLDFAST_MASTER_KEY, or from a key file that is generated on first start.
// Without it those credentials cannot be decrypted: docs/OPERATIONS.md explains how to back it up.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

export const MASTER_KEY_BYTES = 32;

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

export interface MasterKeySource {
  masterKey?: string | undefined;
  masterKeyFile: string;
  /**
   * Whether a missing key file may be generated. False once the appliance has data: a new key
   * would silently make every stored credential unreadable.
   */
  mayGenerate?: boolean;
}

export interface LoadedMasterKey {
  key: Buffer;
  origin: 'environment' | 'file' | 'generated';
}

function decode(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== MASTER_KEY_BYTES || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    throw new MasterKeyError(`${where} does not hold a 32-byte base64 master key`);
  }
  return key;
}

export function loadMasterKey(source: MasterKeySource): LoadedMasterKey {
  if (source.masterKey) return { key: decode(source.masterKey, 'HOLDFAST_MASTER_KEY'), origin: 'environment' };
  try {
    return { key: decode(readFileSync(source.masterKeyFile, 'utf8'), source.masterKeyFile), origin: 'file' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof MasterKeyError) throw err;
      throw new MasterKeyError(
        `cannot read the master key file ${source.masterKeyFile} (${(err as NodeJS.ErrnoException).code})`,
      );
    }
  }
  if (source.mayGenerate === false) {
    throw new MasterKeyError(
      `the master key file ${source.masterKeyFile} is missing, but this appliance already has data. ` +
        'Restore the key file from your backup, or set HOLDFAST_MASTER_KEY (see docs/OPERATIONS.md)',
    );
  }
  return { key: generateKeyFile(source.masterKeyFile), origin: 'generated' };
}

function generateKeyFile(path: string): Buffer {
  return writeMasterKeyFile(path, randomBytes(MASTER_KEY_BYTES));
}

/**
 * Writes a key file (mode 0600) that must not exist yet: a new key, or a recovered appliance's
 * (core/dr/recover.ts). If another process created it meanwhile, the key it holds is returned.
 */
export function writeMasterKeyFile(path: string, key: Buffer): Buffer {
  let fd: number;
  try {
    // 'wx' fails if another process created the file meanwhile: never overwrite a key.
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return decode(readFileSync(path, 'utf8'), path);
    throw new MasterKeyError(`cannot create the master key file ${path} (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
  return key;
}
