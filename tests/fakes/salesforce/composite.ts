// The Composite resource (POST /services/data/vXX.X/composite): up to 25 subrequests in order,
// each answered as if sent alone (its own status, body and conditional headers), the whole
// counting as one API call. Subrequests are replayed against this same server, marked so that
// they are neither counted nor charged nor faulted again (the composite call was).
import { restError } from './model.ts';

/** Marks a subrequest the server replays to itself. */
export const SUBREQUEST_HEADER = 'x-stand-in-subrequest';

interface SubRequest {
  method?: string;
  url?: string;
  referenceId?: string;
  httpHeaders?: Record<string, string>;
  body?: unknown;
}

export async function runComposite(base: string, authorization: string, body: Buffer): Promise<unknown> {
  let input: { compositeRequest?: SubRequest[] };
  try {
    input = JSON.parse(body.toString() || '{}');
  } catch {
    throw restError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON.');
  }
  const subs = input.compositeRequest;
  if (!Array.isArray(subs) || subs.length === 0) {
    throw restError(400, 'INVALID_INPUT', 'compositeRequest must hold at least one subrequest.');
  }
  if (subs.length > 25) throw restError(400, 'LIMIT_EXCEEDED', 'Composite requests hold at most 25 subrequests.');
  const compositeResponse: unknown[] = [];
  for (const sub of subs) {
    if (!sub.url?.startsWith('/services/data/') || !sub.referenceId) {
      throw restError(400, 'INVALID_INPUT', 'Each subrequest needs a url under /services/data/ and a referenceId.');
    }
    const answer = await fetch(`${base}${sub.url}`, {
      method: sub.method ?? 'GET',
      headers: {
        ...(sub.httpHeaders ?? {}),
        authorization,
        [SUBREQUEST_HEADER]: '1',
        ...(sub.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(sub.body !== undefined ? { body: JSON.stringify(sub.body) } : {}),
    });
    const text = await answer.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    compositeResponse.push({
      body: parsed,
      httpHeaders: {},
      httpStatusCode: answer.status,
      referenceId: sub.referenceId,
    });
  }
  return { compositeResponse };
}
