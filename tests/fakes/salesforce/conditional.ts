// Conditional describes: describeGlobal and sObject describe answer 304 Not Modified (no body)
// to an If-Modified-Since (HTTP date, whole seconds) when nothing they describe changed after it.
// A 304 is still an API call: it counts against the daily budget like any other.
import type { IncomingMessage } from 'node:http';

export function notModified(req: IncomingMessage, changedAt: Date): boolean {
  const header = req.headers['if-modified-since'];
  if (!header) return false;
  const since = Date.parse(String(header));
  if (Number.isNaN(since)) return false;
  return Math.floor(changedAt.getTime() / 1000) * 1000 <= since;
}
