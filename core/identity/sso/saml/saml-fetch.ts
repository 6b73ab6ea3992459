// One GET of an identity provider's metadata document: bounded in time and size, no redirects
// followed, and through the webhooks' guarded DNS lookup so a name resolving to a private
// address is refused at connection time unless the operator allows it.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup } from '../../../webhooks/url-guard.ts';
import { MAX_METADATA_BYTES } from './saml-idp-metadata.ts';

const TIMEOUT_MS = 10_000;

export function fetchIdpDocument(url: string, allowPrivate: boolean): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      target,
      {
        method: 'GET',
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
        lookup: guardedLookup(allowPrivate),
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          const where = res.headers.location ? ` to ${res.headers.location}` : '';
          reject(new Error(status >= 300 && status < 400 ? `it redirects${where}` : `the server answered ${status}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_METADATA_BYTES) {
            req.destroy(new Error(`it is larger than ${MAX_METADATA_BYTES / 1024} KiB`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}
