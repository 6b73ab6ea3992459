// The configuration backup's sealed form. The body (the appliance's master key and its
// configuration rows, gzipped JSON) is encrypted with a random data key (AES-256-GCM); the data
// key is wrapped once for each kind of recovery material: a key derived from the appliance master
// key (HKDF), and — when one is set — a key derived from the recovery passphrase (scrypt). The
// storage location's credentials alone therefore read nothing of it: no sealed service credential,
// no user, no setting.
//
//   {"format":"holdfast-config-backup","version":1,"appliance":…,"written":…,
//    "keys":[{"kind":"master-key","keyId":…,"nonce":…,"wrapped":…},
//            {"kind":"passphrase","salt":…,"nonce":…,"wrapped":…}],
//    "nonce":…,"body":…}
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

export const CONFIG_BACKUP_FORMAT = 'holdfast-config-backup';
/** Where each storage location keeps it (one per appliance, replaced by each write). */
export const CONFIG_BACKUP_KEY = 'holdfast-appliance/config-backup.json';

/** scrypt cost of the recovery passphrase: ~100 ms and 32 MiB per try. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export class ConfigBackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigBackupError';
  }
}

export interface ConfigPayload {
  /** The appliance master key (base64): it opens the sealed credentials and the repositories. */
  masterKey: string;
  /** The migrations the rows were written under. */
  migrations: string[];
  tables: Record<string, Record<string, unknown>[]>;
}

interface WrappedKey {
  kind: 'master-key' | 'passphrase';
  keyId?: string;
  salt?: string;
  nonce: string;
  wrapped: string;
}

interface SealedFile {
  format: typeof CONFIG_BACKUP_FORMAT;
  version: 1;
  appliance: string;
  written: string;
  keys: WrappedKey[];
  nonce: string;
  body: string;
}

/** What opens a configuration backup: the master key export, or the recovery passphrase. */
export type RecoveryMaterial = { masterKey: Buffer } | { passphrase: string };

export function masterKeyKek(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'holdfast config backup v1', 32));
}

const kekId = (kek: Buffer) => createHash('sha256').update(kek).digest('hex').slice(0, 8);

/** The key a recovery passphrase derives (kept sealed by the appliance, so each write can use it). */
export function passphraseKek(passphrase: string, salt: Buffer): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), salt, 32, SCRYPT);
}

function gcm(key: Buffer, plaintext: Buffer, aad: string): { nonce: string; sealed: string } {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), sealed: sealed.toString('base64') };
}

function ungcm(key: Buffer, nonce: string, sealedText: string, aad: string): Buffer | null {
  const sealed = Buffer.from(sealedText, 'base64');
  if (sealed.length < 16) return null;
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch {
    return null;
  }
}

export function sealConfigBackup(
  payload: ConfigPayload,
  options: { appliance: string; written: Date; masterKey: Buffer; passphrase?: { salt: Buffer; kek: Buffer } | null },
): Buffer {
  const dataKey = randomBytes(32);
  const header = `${CONFIG_BACKUP_FORMAT} 1 ${options.appliance} ${options.written.toISOString()}`;
  const master = masterKeyKek(options.masterKey);
  const wrapMaster = gcm(master, dataKey, `${header} master-key`);
  const keys: WrappedKey[] = [
    { kind: 'master-key', keyId: kekId(master), nonce: wrapMaster.nonce, wrapped: wrapMaster.sealed },
  ];
  if (options.passphrase) {
    const w = gcm(options.passphrase.kek, dataKey, `${header} passphrase`);
    keys.push({
      kind: 'passphrase',
      salt: options.passphrase.salt.toString('base64'),
      nonce: w.nonce,
      wrapped: w.sealed,
    });
  }
  const body = gcm(dataKey, gzipSync(Buffer.from(JSON.stringify(payload), 'utf8')), `${header} body`);
  const file: SealedFile = {
    format: CONFIG_BACKUP_FORMAT,
    version: 1,
    appliance: options.appliance,
    written: options.written.toISOString(),
    keys,
    nonce: body.nonce,
    body: body.sealed,
  };
  return Buffer.from(JSON.stringify(file), 'utf8');
}

/** The sealed file's public header: whose it is and when it was written. */
export function configBackupHeader(bytes: Buffer): { appliance: string; written: Date; passphrase: boolean } {
  const file = parse(bytes);
  return {
    appliance: file.appliance,
    written: new Date(file.written),
    passphrase: file.keys.some((k) => k.kind === 'passphrase'),
  };
}

function parse(bytes: Buffer): SealedFile {
  let file: SealedFile;
  try {
    file = JSON.parse(bytes.toString('utf8')) as SealedFile;
  } catch {
    throw new ConfigBackupError('the configuration backup is not readable JSON (damaged or not a Holdfast file)');
  }
  if (file?.format !== CONFIG_BACKUP_FORMAT || file.version !== 1 || !Array.isArray(file.keys)) {
    throw new ConfigBackupError('not a Holdfast configuration backup (or of a newer version)');
  }
  return file;
}

export function openConfigBackup(bytes: Buffer, material: RecoveryMaterial): ConfigPayload {
  const file = parse(bytes);
  const header = `${CONFIG_BACKUP_FORMAT} 1 ${file.appliance} ${file.written}`;
  let dataKey: Buffer | null = null;
  if ('masterKey' in material) {
    const kek = masterKeyKek(material.masterKey);
    const entry = file.keys.find((k) => k.kind === 'master-key');
    if (entry) dataKey = ungcm(kek, entry.nonce, entry.wrapped, `${header} master-key`);
    if (!dataKey)
      throw new ConfigBackupError("this master key does not open the configuration backup (another appliance's key?)");
  } else {
    const entry = file.keys.find((k) => k.kind === 'passphrase');
    if (!entry?.salt) {
      throw new ConfigBackupError('no recovery passphrase was set on this appliance: use its master key export');
    }
    const kek = passphraseKek(material.passphrase, Buffer.from(entry.salt, 'base64'));
    dataKey = ungcm(kek, entry.nonce, entry.wrapped, `${header} passphrase`);
    if (!dataKey) throw new ConfigBackupError('the recovery passphrase is not right');
  }
  const body = ungcm(dataKey, file.nonce, file.body, `${header} body`);
  if (!body) throw new ConfigBackupError('the configuration backup is damaged (it fails authentication)');
  return JSON.parse(gunzipSync(body).toString('utf8')) as ConfigPayload;
}
