// Runs the real appliance (`node core/main.ts`) or CLI as a child process, as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { STEP_TIMEOUT_MS } from './budgets.ts';
import { postgresDatabase } from './config.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

export function baseEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  // On a PostgreSQL run the process uses the data folder's database, as testConfig(dataDir) does.
  return {
    ...env,
    HOLDFAST_DATA_DIR: dataDir,
    HOLDFAST_PORT: '0',
    HOLDFAST_HOST: '127.0.0.1',
    ...postgresDatabase(dataDir),
    ...extra,
  };
}

function track(child: ChildProcess) {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { stdout: () => out, stderr: () => err, exited };
}

/** Starts the appliance and waits until it logs the address it listens on. */
export async function startApplianceProcess(env: NodeJS.ProcessEnv, command?: string[]): Promise<RunningProcess> {
  const [cmd, ...args] = command ?? [process.execPath, 'core/main.ts'];
  const child = spawn(cmd as string, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const t = track(child);
  const url = await new Promise<string>((resolve, reject) => {
    // Waits for the "running" line or the exit; the timer is only a ceiling for a hung start.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`appliance did not start within ${STEP_TIMEOUT_MS} ms:\n${t.stdout()}\n${t.stderr()}`));
    }, STEP_TIMEOUT_MS);
    child.stdout?.on('data', () => {
      const match = /"url":"(http:\/\/[^"]+)".*"msg":"Holdfast is running/.exec(t.stdout());
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    t.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`appliance exited (${code}) before listening:\n${t.stdout()}\n${t.stderr()}`));
    });
  });
  return { child, url, ...t };
}

/** Runs a command to completion. */
export function runToEnd(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  command: string = process.execPath,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const t = track(child);
  child.stdin?.end(input ?? '');
  return t.exited.then((code) => ({ code, stdout: t.stdout(), stderr: t.stderr() }));
}
