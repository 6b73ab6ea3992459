import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMasterKey, MasterKeyError } from '../../../core/secrets/master-key.ts';
import { tempDir } from '../../helpers/config.ts';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function keyFile(): string {
  const dir = tempDir();
  dirs.push(dir);
  return join(dir.path, 'master.key');
}

describe('appliance master key', () => {
  it('is generated on first start into a 0600 file and reused afterwards', () => {
    const file = keyFile();
    const first = loadMasterKey({ masterKeyFile: file });
    expect(first.origin).toBe('generated');
    expect(first.key).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadMasterKey({ masterKeyFile: file });
    expect(second.origin).toBe('file');
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('prefers HOLDFAST_MASTER_KEY over the file', () => {
    const key = randomBytes(32);
    const loaded = loadMasterKey({ masterKey: key.toString('base64'), masterKeyFile: keyFile() });
    expect(loaded.origin).toBe('environment');
    expect(loaded.key.equals(key)).toBe(true);
  });

  it('refuses a damaged key file instead of replacing it', () => {
    const file = keyFile();
    writeFileSync(file, 'garbage');
    expect(() => loadMasterKey({ masterKeyFile: file })).toThrow(MasterKeyError);
    expect(() => loadMasterKey({ masterKeyFile: file })).toThrow(`${file} does not hold a 32-byte base64 master key`);
  });
});
