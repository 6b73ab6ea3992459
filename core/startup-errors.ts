// Errors a user can fix (bad settings, unwritable folders, a wrong key) are printed as plain
// sentences with a distinct exit code, never as stack traces.
import { ConfigError } from '../config/load.ts';
import { MasterKeyError } from './secrets/master-key.ts';
import { DataDirError } from './system/data-dir.ts';

export const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h
export const EXIT_FAILURE = 1;

/** The lines to print and the exit code for a start-up failure, or undefined if it is a bug. */
export function explainStartupError(err: unknown): { lines: string[]; exitCode: number } | undefined {
  if (err instanceof ConfigError) {
    return { lines: ['holdfast: invalid configuration', ...err.problems.map((p) => `  ${p}`)], exitCode: EXIT_CONFIG };
  }
  if (err instanceof DataDirError || err instanceof MasterKeyError) {
    return { lines: [`holdfast: ${err.message}`], exitCode: EXIT_CONFIG };
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (
    code === 'SQLITE_CANTOPEN' ||
    code === 'SQLITE_READONLY' ||
    code === 'SQLITE_NOTADB' ||
    code === 'SQLITE_CORRUPT'
  ) {
    return {
      lines: [`holdfast: cannot use the database (${code}): ${(err as Error).message}. Check HOLDFAST_DATABASE_PATH.`],
      exitCode: EXIT_FAILURE,
    };
  }
  if (err instanceof Error && /\((HOLDFAST_PORT|HOLDFAST_HOST)\)$/.test(err.message)) {
    return { lines: [`holdfast: ${err.message}`], exitCode: EXIT_FAILURE };
  }
  return undefined;
}

export function exitWithStartupError(err: unknown): never {
  const explained = explainStartupError(err);
  if (explained) {
    for (const line of explained.lines) process.stderr.write(`${line}\n`);
    process.exit(explained.exitCode);
  }
  process.stderr.write(`holdfast: failed to start\n${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(EXIT_FAILURE);
}
