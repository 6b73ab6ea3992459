// Start-up check that the folders the appliance writes to exist and accept writes, so a
// misconfigured volume is reported in one clear sentence rather than as a database stack trace.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

const reasons: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file is in the way',
};

/** Creates `dir` if needed and proves it is writable; `setting` names the env var for the message. */
export function ensureWritableDir(dir: string, setting: string): void {
  const probe = join(dir, `.write-probe-${randomUUID()}`);
  try {
    // New folders are private to the appliance's user: they hold the database and keys.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(probe, 'ok');
    rmSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const reason = reasons[code] ?? code;
    throw new DataDirError(`${dir} is not writable: ${reason} (${code}). Set ${setting} to a writable folder.`);
  }
}
