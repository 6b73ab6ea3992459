import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WorkWindow } from '../../../storage/work-window.ts';

describe('work window', () => {
  it('bounds jobs and cost, and lets one oversized job run alone', async () => {
    const w = new WorkWindow(3, 100);
    let running = 0;
    let cost = 0;
    let peakJobs = 0;
    let peakCost = 0;
    const job = (c: number) => async () => {
      running++;
      cost += c;
      peakJobs = Math.max(peakJobs, running);
      peakCost = Math.max(peakCost, cost);
      await sleep(5);
      running--;
      cost -= c;
    };
    for (const c of [10, 10, 10, 10, 60, 60, 500, 10]) await w.submit(c, job(c));
    await w.drain();
    expect(peakJobs).toBe(3);
    expect(peakCost).toBe(500);
  });

  it('reports the first failure', async () => {
    const w = new WorkWindow(2, 10);
    await w.submit(1, async () => {
      throw new Error('disk full');
    });
    await expect(w.drain()).rejects.toThrow('disk full');
  });

  it('aborts its signal at the first failure so running jobs can stop, and settles without throwing', async () => {
    const w = new WorkWindow(2);
    let stopped = false;
    await w.submit(1, async () => {
      await new Promise<void>((resolve) => w.signal.addEventListener('abort', () => resolve(), { once: true }));
      stopped = true;
    });
    await w.submit(1, async () => {
      throw new Error('refused');
    });
    await w.settle();
    expect(stopped).toBe(true);
    expect(w.signal.reason).toEqual(new Error('refused'));
    await expect(w.submit(1, async () => undefined)).rejects.toThrow('refused');
  });
});
