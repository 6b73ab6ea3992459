// Maps Azure Blob SDK errors (RestError) to the contract's typed errors, with a reason for the
// connection test. Messages name the container and blob, never keys or SAS tokens.
import {
  ObjectExistsError,
  ObjectNotFoundError,
  PermanentSinkError,
  SinkError,
  type SinkFailureReason,
  TransientSinkError,
} from '../../../core/plugins/sink.ts';
import { networkDetail, networkReason } from '../../../core/plugins/sink-support/network-reason.ts';

interface RestLikeError {
  name?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string };
}

export function azureErrorCode(err: unknown): string {
  const e = err as RestLikeError;
  return e?.details?.errorCode ?? e?.code ?? e?.name ?? 'Error';
}

export function azureStatus(err: unknown): number | undefined {
  return (err as RestLikeError)?.statusCode;
}

export function toSinkError(err: unknown, where: string, key?: string, action = 'request'): SinkError {
  if (err instanceof SinkError) return err;
  const code = azureErrorCode(err);
  const status = azureStatus(err);
  const subject = key === undefined ? where : `${key} in ${where}`;
  const permanent = (reason: SinkFailureReason | undefined, text: string) =>
    new PermanentSinkError(`${action} ${subject}: ${text}`, key, { cause: err, ...(reason ? { reason } : {}) });
  const transient = (reason: SinkFailureReason | undefined, text: string) =>
    new TransientSinkError(`${action} ${subject}: ${text}`, key, { cause: err, ...(reason ? { reason } : {}) });

  if (code === 'ContainerNotFound') return permanent('bucket_missing', 'the container does not exist');
  if ((code === 'BlobNotFound' || status === 404) && key !== undefined)
    return new ObjectNotFoundError(key, { cause: err });
  if (code === 'BlobAlreadyExists' || (status === 412 && code === 'ConditionNotMet') || status === 412) {
    return key === undefined ? permanent(undefined, code) : new ObjectExistsError(key, { cause: err });
  }
  // AuthorizationFailure is also what azurite answers to a wrong shared key; Azure uses it for a
  // SAS or network rule that refuses the request outright.
  if (
    code === 'AuthenticationFailed' ||
    code === 'InvalidAuthenticationInfo' ||
    code === 'AuthorizationFailure' ||
    status === 401
  ) {
    return permanent('auth', `the store refused the credentials (${code})`);
  }
  if (status === 403) return permanent('permission', `access denied (${code})`);
  if (code === 'ServerBusy' || status === 429 || status === 503)
    return transient('throttled', `the store is busy (${code})`);
  if (status !== undefined && status >= 500) return transient('server', `the store failed (${code}, HTTP ${status})`);
  if (status === undefined) {
    const reason = networkReason(err);
    if (reason === 'dns' || reason === 'tls') return permanent(reason, `cannot connect (${networkDetail(err)})`);
    if (reason) return transient(reason, `connection failed (${networkDetail(err)})`);
    if (code === 'REQUEST_SEND_ERROR') return transient('unreachable', 'the request could not be sent');
  }
  return permanent(undefined, `${code}${status ? ` (HTTP ${status})` : ''}`);
}
