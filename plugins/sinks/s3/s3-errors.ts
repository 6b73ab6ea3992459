// Maps S3 SDK errors to the contract's typed errors, with a reason for the connection test.
// Messages name the bucket and key, never credentials.
import {
  ObjectExistsError,
  ObjectNotFoundError,
  PermanentSinkError,
  SinkError,
  type SinkFailureReason,
  TransientSinkError,
} from '../../../core/plugins/sink.ts';
import { networkDetail, networkReason } from '../../../core/plugins/sink-support/network-reason.ts';

interface S3LikeError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const AUTH = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'RequestTimeTooSkewed',
  'AuthorizationHeaderMalformed',
  'CredentialsProviderError',
]);
const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded']);
/** Worth another try: the request may succeed when repeated. */
const RETRYABLE = new Set([
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'ConditionalRequestConflict',
  'OperationAborted',
]);

export function s3ErrorName(err: unknown): string {
  const e = err as S3LikeError;
  return e?.Code ?? e?.name ?? 'Error';
}

export function s3Status(err: unknown): number | undefined {
  return (err as S3LikeError)?.$metadata?.httpStatusCode;
}

/** `where` is "bucket/prefix" (the sink's description), `key` the object involved if any. */
export function toSinkError(err: unknown, where: string, key?: string, action = 'request'): SinkError {
  if (err instanceof SinkError) return err;
  const name = s3ErrorName(err);
  const status = s3Status(err);
  const subject = key === undefined ? where : `${key} in ${where}`;
  const permanent = (reason: SinkFailureReason | undefined, text: string) =>
    new PermanentSinkError(`${action} ${subject}: ${text}`, key, { cause: err, ...(reason ? { reason } : {}) });
  const transient = (reason: SinkFailureReason | undefined, text: string) =>
    new TransientSinkError(`${action} ${subject}: ${text}`, key, { cause: err, ...(reason ? { reason } : {}) });

  if (name === 'NoSuchBucket') return permanent('bucket_missing', 'the bucket does not exist (NoSuchBucket)');
  // The store forgot an unfinished multipart upload (restarted, or aborted it): only a new put helps.
  if (name === 'NoSuchUpload') return permanent('server', 'the store lost the multipart upload (NoSuchUpload)');
  if ((name === 'NoSuchKey' || name === 'NotFound' || status === 404) && key !== undefined) {
    return new ObjectNotFoundError(key, { cause: err });
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return key === undefined ? permanent(undefined, 'precondition failed') : new ObjectExistsError(key, { cause: err });
  }
  if (AUTH.has(name)) return permanent('auth', `the store refused the credentials (${name})`);
  if (name === 'AccessDenied' || name === 'AllAccessDisabled' || status === 403) {
    return permanent('permission', `access denied (${name})`);
  }
  if (THROTTLED.has(name) || status === 429) return transient('throttled', `the store is throttling (${name})`);
  if (RETRYABLE.has(name) || (status !== undefined && status >= 500 && name !== 'NotImplemented')) {
    return transient('server', `the store failed (${name}${status ? `, HTTP ${status}` : ''})`);
  }
  if (name === 'NotImplemented' || status === 501)
    return permanent('unsupported', `not supported by the store (${name})`);
  if (status === undefined) {
    const reason = networkReason(err);
    if (reason === 'dns' || reason === 'tls') return permanent(reason, `cannot connect (${networkDetail(err)})`);
    if (reason) return transient(reason, `connection failed (${networkDetail(err)})`);
    if (name === 'AbortError' || name === 'TimeoutError')
      return transient('timeout', `the request timed out (${name})`);
    if (name === 'CredentialsProviderError') return permanent('auth', 'no credentials were found');
  }
  return permanent(undefined, `${name}${status ? ` (HTTP ${status})` : ''}`);
}
