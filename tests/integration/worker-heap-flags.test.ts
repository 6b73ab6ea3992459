// The appliance's main thread runs with small semi-spaces and its job worker threads with the
// repository's (core/memory-flags.ts, jobWorkerHeapFlags): V8 sizes a thread's young generation
// when the thread starts, from the flags of that moment. Run in a Node of its own, started as
// the appliance re-executes itself, and compared through each thread's heap size limit (the old
// generation's cap plus three semi-spaces: two, and the new large-object space).
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const MiB = 1024 * 1024;

function limits(args: string[]): { main: number; worker: number } {
  const script = `
    import { Worker } from 'node:worker_threads';
    import { getHeapStatistics } from 'node:v8';
    const { jobWorkerHeapFlags } = await import('./core/memory-flags.ts');
    jobWorkerHeapFlags();
    // Evaluated as a module, as this script (--input-type=module).
    const worker = new Worker(
      "import { parentPort } from 'node:worker_threads'; import { getHeapStatistics } from 'node:v8'; parentPort.postMessage(getHeapStatistics().heap_size_limit);",
      { eval: true },
    );
    const workerLimit = await new Promise((r) => worker.once('message', r));
    await worker.terminate();
    process.stdout.write(JSON.stringify({ main: getHeapStatistics().heap_size_limit, worker: workerLimit }));
  `;
  const out = execFileSync(process.execPath, [...args, '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return JSON.parse(out) as { main: number; worker: number };
}

describe('job worker heap flags', () => {
  it("gives job worker threads 8 MiB semi-spaces while the appliance's main thread keeps 2", {
    timeout: 60_000,
  }, () => {
    const { main, worker } = limits([
      '--max-semi-space-size=8',
      '--max-old-space-size=1024',
      '--max-semi-space-size=2',
    ]);
    expect((worker - main) / MiB).toBe(3 * (8 - 2));
  });

  it('changes nothing in a process started with other flags (holdfast repo, flags an operator chose)', {
    timeout: 60_000,
  }, () => {
    const repo = limits(['--max-semi-space-size=8', '--max-old-space-size=1024']);
    expect(repo.worker).toBe(repo.main);
    const chosen = limits(['--max-semi-space-size=2']);
    expect(chosen.worker).toBe(chosen.main);
  });
});
