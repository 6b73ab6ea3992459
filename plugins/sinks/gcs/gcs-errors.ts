// Maps @google-cloud/storage errors (ApiError: HTTP status in `code`, reasons in `errors`) to the
// contract's typed errors, with a reason for the connection test. Never includes key material.
import {
  ObjectExistsError,
  ObjectNotFoundError,
  PermanentSinkError,
  SinkError,
  type SinkFailureReason,
  TransientSinkError,
} from '../../../core/plugins/sink.ts';
import { networkDetail, networkReason } from '../../../core/plugins/sink-support/network-reason.ts';

interface ApiLikeError {
  code?: number | string;
  message?: string;
  errors?: { reason?: string; message?: string }[];
}

export function gcsStatus(err: unknown): number | undefined {
  const code = (err as ApiLikeError)?.code;
  return typeof code === 'number' ? code : undefined;
}

function gcsReason(err: unknown): string {
  return (err as ApiLikeError)?.errors?.[0]?.reason ?? '';
}

export function toSinkError(err: unknown, where: string, key?: string, action = 'request'): SinkError {
  if (err instanceof SinkError) return err;
  const status = gcsStatus(err);
  const reason = gcsReason(err);
  const message = String((err as ApiLikeError)?.message ?? '');
  const subject = key === undefined ? where : `${key} in ${where}`;
  const permanent = (r: SinkFailureReason | undefined, text: string) =>
    new PermanentSinkError(`${action} ${subject}: ${text}`, key, { cause: err, ...(r ? { reason: r } : {}) });
  const transient = (r: SinkFailureReason | undefined, text: string) =>
    new TransientSinkError(`${action} ${subject}: ${text}`, key, { cause: err, ...(r ? { reason: r } : {}) });

  if (status === 404 && /bucket does not exist/i.test(message))
    return permanent('bucket_missing', 'the bucket does not exist');
  if (status === 404 && key !== undefined) return new ObjectNotFoundError(key, { cause: err });
  if (status === 412)
    return key === undefined ? permanent(undefined, 'precondition failed') : new ObjectExistsError(key, { cause: err });
  if (status === 401) return permanent('auth', `the store refused the credentials (${reason || 'HTTP 401'})`);
  if (status === 403) return permanent('permission', `access denied (${reason || 'HTTP 403'})`);
  if (status === 429) return transient('throttled', `the store is throttling (${reason || 'HTTP 429'})`);
  if (status !== undefined && status >= 500)
    return transient('server', `the store failed (${reason || `HTTP ${status}`})`);
  if (status === undefined) {
    const net = networkReason(err);
    if (net === 'dns' || net === 'tls') return permanent(net, `cannot connect (${networkDetail(err)})`);
    if (net) return transient(net, `connection failed (${networkDetail(err)})`);
    if (/Could not load the default credentials|private key|client_email/i.test(message)) {
      return permanent('auth', 'the service-account key could not be used');
    }
  }
  return permanent(undefined, `${reason || (err as Error)?.name || 'error'}${status ? ` (HTTP ${status})` : ''}`);
}
