// Tells, from a Node or SDK network error, why a store could not be reached.
import type { SinkFailureReason } from '../sink.ts';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'TimeoutError']);
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|EPROTO$|ERR_OSSL_)/;

/** Follows `cause` chains (SDKs wrap socket errors) and looks at every error's code and name. */
function* chain(err: unknown): Generator<{ code?: unknown; name?: unknown; message?: unknown }> {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    yield current as { code?: unknown; name?: unknown; message?: unknown };
    const c = current as { cause?: unknown; errors?: unknown[] };
    if (Array.isArray(c.errors) && c.errors.length) {
      for (const inner of c.errors) yield* chain(inner);
    }
    current = c.cause;
  }
}

/** The network reason of an error, or undefined when it is not a network failure. */
export function networkReason(err: unknown): SinkFailureReason | undefined {
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    const name = typeof e.name === 'string' ? e.name : '';
    if (DNS_CODES.has(code)) return 'dns';
    if (TLS_CODE.test(code) || /SSL routines|wrong version number|certificate/i.test(String(e.message ?? ''))) {
      return 'tls';
    }
    if (UNREACHABLE_CODES.has(code)) return 'unreachable';
    if (TIMEOUT_CODES.has(code) || TIMEOUT_CODES.has(name)) return 'timeout';
  }
  return undefined;
}

/** A short description of a network error without anything secret (codes and hosts only). */
export function networkDetail(err: unknown): string {
  for (const e of chain(err)) {
    if (typeof e.code === 'string' && e.code) return e.code;
  }
  return err instanceof Error ? err.name : 'network error';
}
