// One JSON request to a collector or a PSA, through the SSRF rule of webhooks (a name resolving
// to a private address is refused at connection time unless the operator allows private targets).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup } from '../webhooks/url-guard.ts';

export interface JsonAnswer {
  status: number;
  /** The parsed body, or null when it was not JSON. */
  json: Record<string, unknown> | null;
  text: string;
}

const TIMEOUT_MS = 15_000;
const MAX_ANSWER = 256 * 1024;

export function requestJson(
  method: 'GET' | 'POST' | 'PATCH',
  url: URL,
  headers: Record<string, string>,
  body: string | null,
  allowPrivate: boolean,
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const sized =
      body === null
        ? headers
        : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = send(
      url,
      {
        method,
        headers: { accept: 'application/json', ...sized },
        lookup: guardedLookup(allowPrivate),
        timeout: TIMEOUT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < MAX_ANSWER) text += chunk;
        });
        res.on('end', () => {
          let json: Record<string, unknown> | null = null;
          try {
            const parsed: unknown = JSON.parse(text);
            // A JSON array (ConnectWise's lists) is kept under `items`.
            if (Array.isArray(parsed)) json = { items: parsed };
            else if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>;
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, json, text: text.slice(0, 500) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

export function postJson(
  url: URL,
  headers: Record<string, string>,
  body: string,
  allowPrivate: boolean,
): Promise<JsonAnswer> {
  return requestJson('POST', url, headers, body, allowPrivate);
}
