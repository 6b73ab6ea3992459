// openid-client's errors, as one sentence for the person signing in and the Security audit.
// The library wraps oauth4webapi's errors; the code and the claim sit along the cause chain.
import { AuthorizationResponseError, ResponseBodyError } from 'openid-client';

interface Coded {
  code?: unknown;
  cause?: unknown;
  message?: unknown;
  claim?: unknown;
}

/** The codes and claim names along an error's cause chain. */
function chainOf(error: unknown): { codes: string[]; claims: string[]; messages: string[] } {
  const codes: string[] = [];
  const claims: string[] = [];
  const messages: string[] = [];
  let at: unknown = error;
  for (let depth = 0; at && typeof at === 'object' && depth < 6; depth++) {
    const e = at as Coded;
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.claim === 'string') claims.push(e.claim);
    if (typeof e.message === 'string') messages.push(e.message);
    at = e.cause;
  }
  return { codes, claims, messages };
}

export function refusalOf(error: unknown): string {
  if (error instanceof AuthorizationResponseError) {
    const said = error.error_description ?? error.error;
    return `The identity provider refused the sign-in: ${said}.`;
  }
  if (error instanceof ResponseBodyError) {
    return error.error === 'invalid_grant'
      ? 'The identity provider no longer accepts this sign-in (the grant is invalid or was revoked).'
      : `The identity provider refused the token request: ${error.error_description ?? error.error}.`;
  }
  const { codes, claims, messages } = chainOf(error);
  const text = messages.join(' ');
  if (claims.includes('aud') || /"aud"|untrusted audiences/.test(text)) {
    return 'The ID token was issued for another application (wrong audience).';
  }
  if (claims.includes('nonce') || /nonce/.test(text))
    return 'The ID token does not belong to this sign-in (nonce mismatch).';
  if (claims.includes('iss') || /"iss"/.test(text))
    return 'The ID token was issued by another identity provider (wrong issuer).';
  if (claims.includes('exp') || /expiration/.test(text)) return 'The ID token has expired.';
  if (codes.includes('OAUTH_JWT_TIMESTAMP_CHECK_FAILED'))
    return 'The ID token is not valid at this time (check the clocks).';
  if (/signature/i.test(text) || codes.includes('OAUTH_KEY_SELECTION_FAILED')) {
    return 'The ID token’s signature could not be verified.';
  }
  if (/state/.test(text)) return 'The answer does not belong to this sign-in (state mismatch).';
  if (codes.includes('OAUTH_REQUEST_PROTOCOL_FORBIDDEN') || codes.includes('OAUTH_HTTP_REQUEST_FORBIDDEN')) {
    return 'The identity provider’s endpoints must use https://.';
  }
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|timed? ?out|abort/i.test(text)) {
    return 'The identity provider could not be reached.';
  }
  return 'The identity provider’s answer could not be verified.';
}
