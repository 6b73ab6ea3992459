// Crash tests: a child process SIGKILLed at a random point of its writes. The points are counted
// in file-system events under the folder its writes land in (a local repository, or a loopback
// store's folder), so every kill lands while the child is writing, whatever the machine's speed.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { watch } from 'node:fs';
import { repoRoot } from './process.ts';

export interface WriteRun {
  /** The exit code, or 'SIGKILL' when the kill landed. */
  exit: number | string;
  /** File-system events seen under the folder while the child ran. */
  events: number;
}

/**
 * Runs `node <args>` and, when `killAt` is given, SIGKILLs it at the `killAt`-th file-system event
 * under `folder`; without it, counts the events of a whole run.
 */
export function runWatchingWrites(
  args: string[],
  env: NodeJS.ProcessEnv,
  folder: string,
  killAt?: number,
): Promise<WriteRun> {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: 'ignore' });
  let events = 0;
  const watcher = watch(folder, { recursive: true }, () => {
    events++;
    if (events === killAt) child.kill('SIGKILL');
  });
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      watcher.close();
      resolve({ exit: code ?? signal ?? '', events });
    });
  });
}

/**
 * Runs the child until one run is SIGKILLed at a random write: the point is drawn from the events
 * a whole run makes (`expectedEvents`), and a run that ends before it is tried again with a point
 * drawn below the events that run made. `before` prepares each attempt (new data to write).
 * Throws if no kill landed in ten attempts. Returns the chosen point and the attempts it took.
 */
export async function killAtRandomWrite(
  args: string[],
  env: NodeJS.ProcessEnv,
  folder: string,
  expectedEvents: number,
  before: () => void,
): Promise<{ point: number; attempts: number }> {
  let most = expectedEvents;
  for (let attempt = 1; attempt <= 10; attempt++) {
    before();
    const point = randomInt(1, Math.max(2, most));
    const run = await runWatchingWrites(args, env, folder, point);
    if (run.exit === 'SIGKILL') return { point, attempts: attempt };
    if (run.exit !== 0) throw new Error(`the child failed (${run.exit}) before its kill point ${point}`);
    most = Math.min(most, run.events);
  }
  throw new Error(`no run of ${args.join(' ')} lasted until its random kill point in ten attempts`);
}
