// The connection test of a storage location: opens the sink with the settings, runs the probe
// (write, read, list, delete; and for a location with immutability, that the store refuses to
// delete a locked object), and turns anything that goes wrong, opening included, into one
// sentence and a detail line. It retries less than a backup would and has a deadline, so an
// unreachable store answers within seconds rather than after a backup's patient retries.

import type { Sink, SinkFailureReason, SinkPlugin } from '../plugins/sink.ts';
import { SinkError } from '../plugins/sink.ts';
import { type ProbeStep, probeSentence, probeSink } from '../plugins/sink-probe.ts';

export interface ConnectionTestResult {
  ok: boolean;
  /** Where, without secrets (e.g. "s3:bucket/prefix"); the kind's label when the sink did not open. */
  description: string;
  /** One sentence naming the cause (or saying it worked). */
  sentence: string;
  /** Which step failed and the store's own message; null when it worked. */
  detail: string | null;
  reason: SinkFailureReason | 'other' | null;
  step: ProbeStep | 'open' | null;
}

const TEST_RETRY = { attempts: 2, baseDelayMs: 100, maxDelayMs: 500 } as const;
export const CONNECTION_TEST_DEADLINE_MS = 30_000;

export async function testConnection(
  plugin: SinkPlugin<unknown>,
  settings: Record<string, unknown>,
  deadlineMs = CONNECTION_TEST_DEADLINE_MS,
): Promise<ConnectionTestResult> {
  let sink: Sink;
  try {
    sink = await plugin.create(plugin.settings.parse(settings), { retry: TEST_RETRY });
  } catch (err) {
    const reason = err instanceof SinkError ? (err.reason ?? 'other') : 'other';
    return {
      ok: false,
      description: plugin.label,
      sentence: probeSentence(reason, `the ${plugin.label} location`),
      detail: `opening the store failed: ${oneLine(err)}`,
      reason,
      step: 'open',
    };
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  try {
    const result = await Promise.race([probeSink(sink), deadline]);
    if (result === 'timeout') {
      return {
        ok: false,
        description: sink.description,
        sentence: probeSentence('timeout', sink.description),
        detail: `no answer within ${Math.ceil(deadlineMs / 1000)} s`,
        reason: 'timeout',
        step: null,
      };
    }
    if (result.ok) {
      const lock = result.locking;
      return {
        ok: true,
        description: result.description,
        sentence:
          `Connected to ${result.description}: writing, reading, listing and deleting a test object worked.` +
          (lock
            ? ` Immutability (${lock.mode}, ${lock.days} days) is enforced: the store refused to delete a locked test object.`
            : ''),
        detail: null,
        reason: null,
        step: null,
      };
    }
    return {
      ok: false,
      description: result.description,
      sentence: result.sentence,
      detail: result.detail ?? null,
      reason: result.reason,
      step: result.step,
    };
  } finally {
    clearTimeout(timer);
    await sink.close().catch(() => undefined);
  }
}

/** The first line of an error's message: never a stack. */
function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]?.slice(0, 500) ?? 'unknown error';
}
