// A syslog-over-TLS collector on loopback (RFC 5425): a self-signed certificate for 127.0.0.1
// made with openssl, octet-counted frames read off each connection, and each message parsed
// by the RFC 5424 grammar (and its CEF message, when it is one). `down()` stops listening on
// the port, as a collector that is off; `up()` listens on the same port again.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';

export interface Syslog5424 {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  /** SD-PARAMs of the first SD-ELEMENT, unescaped. */
  params: Record<string, string>;
  sdId: string;
  msg: string;
}

/** RFC 5424 §6: HEADER SP STRUCTURED-DATA [SP MSG]; throws on a message that does not match. */
export function parseRfc5424(line: string): Syslog5424 {
  const m =
    /^<(\d{1,3})>(\d{1,2}) (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (-|(?:\[(?:[^\]\\"]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: (.*))?$/s.exec(
      line,
    );
  if (!m) throw new Error(`not an RFC 5424 message: ${line.slice(0, 120)}`);
  const [, pri, version, timestamp, hostname, appName, procId, msgId, sd, msg] = m as unknown as string[];
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.test(timestamp as string)) {
    throw new Error(`not an RFC 5424 timestamp: ${timestamp}`);
  }
  const first = /^\[([^ \]]+)((?: [^=\s]+="(?:[^"\\]|\\.)*")*)\]/.exec(sd as string);
  const params: Record<string, string> = {};
  for (const p of (first?.[2] ?? '').matchAll(/ ([^=\s]+)="((?:[^"\\]|\\.)*)"/g)) {
    params[p[1] as string] = (p[2] as string).replace(/\\(["\\\]])/g, '$1');
  }
  return {
    pri: Number(pri),
    version: Number(version),
    timestamp: timestamp as string,
    hostname: hostname as string,
    appName: appName as string,
    procId: procId as string,
    msgId: msgId as string,
    structuredData: sd as string,
    sdId: first?.[1] ?? '-',
    params,
    msg: msg ?? '',
  };
}

export interface CefRecord {
  version: number;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: number;
  extension: Record<string, string>;
}

/** CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension, with CEF's escapes. */
export function parseCef(text: string): CefRecord {
  if (!text.startsWith('CEF:')) throw new Error(`not CEF: ${text.slice(0, 80)}`);
  const header: string[] = [];
  let rest = text.slice(4);
  for (let i = 0; i < 7; i++) {
    const m = /^((?:[^|\\]|\\.)*)\|/.exec(rest);
    if (!m) throw new Error(`CEF header field ${i + 1} missing`);
    header.push((m[1] as string).replace(/\\(.)/g, '$1'));
    rest = rest.slice(m[0].length);
  }
  const extension: Record<string, string> = {};
  for (const m of rest.matchAll(/(\w+)=((?:[^=\\]|\\.)*?)(?= \w+=|$)/g)) {
    extension[m[1] as string] = (m[2] as string).replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
  }
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = header as string[];
  return {
    version: Number(version),
    vendor: vendor as string,
    product: product as string,
    deviceVersion: deviceVersion as string,
    signatureId: signatureId as string,
    name: name as string,
    severity: Number(severity),
    extension,
  };
}

export interface SyslogReceiver {
  host: string;
  port: number;
  /** The collector's certificate: what the integration is told to trust. */
  ca: string;
  /** Every message received, raw, in arrival order. */
  messages: string[];
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Reads RFC 5425 frames (`LEN SP MSG`) from a stream of bytes. */
function frameReader(onMessage: (m: string) => void) {
  let buffer = Buffer.alloc(0);
  return (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const space = buffer.indexOf(0x20);
      if (space < 0) return;
      const length = Number(buffer.subarray(0, space).toString('ascii'));
      if (!Number.isInteger(length) || length <= 0) throw new Error('bad frame length');
      if (buffer.length < space + 1 + length) return;
      onMessage(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
      buffer = buffer.subarray(space + 1 + length);
    }
  };
}

export async function startSyslogReceiver(): Promise<SyslogReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-syslog-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const messages: string[] = [];
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer({ cert, key }, (socket) => {
      const read = frameReader((m) => messages.push(m));
      socket.on('data', (chunk: Buffer) => read(chunk));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => (server as Server).listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await listen();
  return { host: '127.0.0.1', port, ca: cert, messages, down: stop, up: listen, close: stop };
}
