// A sink wrapper that injects faults into writes: fail before writing, truncate the body (end it
// early), break the body stream midway, or slow it down. The sink under it must never expose a
// partial object. Also used by the repository's crash and outage tests. `fail-before` never
// reaches the sink under it (a refused write, as the repository sees it): it tests the caller,
// not the sink; the conformance suite hands the sink itself a body that fails before its first byte.

import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type GetOptions,
  type ObjectInfo,
  type PutOptions,
  type Sink,
  TransientSinkError,
} from '../../core/plugins/sink.ts';

export type WriteFault =
  | { kind: 'fail-before' }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'error-midway'; afterBytes: number }
  | { kind: 'slow'; delayMs: number; chunkBytes: number };

/** Decides the fault for each put (undefined: pass through). */
export type FaultPlan = (key: string, attempt: number) => WriteFault | undefined;

async function* faulty(body: AsyncIterable<Uint8Array>, fault: WriteFault): AsyncIterable<Uint8Array> {
  let sent = 0;
  for await (const raw of body) {
    const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (fault.kind === 'slow') {
      for (let i = 0; i < chunk.length; i += fault.chunkBytes) {
        await sleep(fault.delayMs);
        yield chunk.subarray(i, i + fault.chunkBytes);
      }
      continue;
    }
    if (fault.kind === 'fail-before') return;
    const room = fault.afterBytes - sent;
    if (chunk.length >= room) {
      if (room > 0) yield chunk.subarray(0, room);
      if (fault.kind === 'error-midway') throw new TransientSinkError('injected fault: connection reset mid-upload');
      return; // truncate: the body simply ends early
    }
    sent += chunk.length;
    yield chunk;
  }
}

export class FaultySink implements Sink {
  readonly inner: Sink;
  plan: FaultPlan;
  readonly #attempts = new Map<string, number>();

  constructor(inner: Sink, plan: FaultPlan = () => undefined) {
    this.inner = inner;
    this.plan = plan;
  }

  get description(): string {
    return `faulty(${this.inner.description})`;
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  async put(key: string, body: Uint8Array | Readable, options?: PutOptions): Promise<ObjectInfo> {
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.set(key, attempt);
    const fault = this.plan(key, attempt);
    if (!fault) return this.inner.put(key, body, options);
    if (fault.kind === 'fail-before') {
      if (!(body instanceof Uint8Array)) body.destroy();
      throw new TransientSinkError(`injected fault: ${key} was not written`, key);
    }
    const source = body instanceof Uint8Array ? Readable.from([body]) : body;
    return this.inner.put(key, Readable.from(faulty(source, fault)), options);
  }

  get(key: string, options?: GetOptions): Promise<Readable> {
    return this.inner.get(key, options);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
