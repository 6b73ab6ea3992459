// Syslog over TLS (RFC 5424 messages, RFC 5425 transport with octet-counting frames) to a SIEM's
// collector, each event's message either its JSON (docs/INTEGRATIONS.md) or a CEF line. TLS
// syslog has no application-level acknowledgment: a batch counts as taken when every frame was
// written and the connection closed cleanly.
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { z } from 'zod';
import { VERSION } from '../version.ts';
import { guardedLookup } from '../webhooks/url-guard.ts';
import { type IntegrationKind, IntegrationSendError, type SendOutcome } from './contract.ts';
import type { IntegrationEvent } from './event-feed.ts';

const TIMEOUT_MS = 15_000;
/** The SD-ID's enterprise number: 32473, reserved for documentation (RFC 5612); names the event id. */
const SD_ID = 'holdfast@32473';

export const syslogSettingsSchema = z.object({
  host: z
    .string({ error: 'Enter the collector’s host name or address.' })
    .trim()
    .min(1, { error: 'Enter the collector’s host name or address.' })
    .max(253, { error: 'Use at most 253 characters.' })
    .regex(/^[A-Za-z0-9.:-]+$/, { error: 'Enter a host name or an IP address, without a scheme or port.' }),
  port: z.coerce
    .number({ error: 'Enter a port from 1 to 65535.' })
    .int({ error: 'Enter a port from 1 to 65535.' })
    .min(1, { error: 'Enter a port from 1 to 65535.' })
    .max(65535, { error: 'Enter a port from 1 to 65535.' })
    .default(6514),
  format: z.enum(['json', 'cef'], { error: 'Choose JSON or CEF.' }).default('json'),
  ca: z
    .string()
    .trim()
    .max(4096, { error: 'Use at most 4096 characters.' })
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => !v || /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(v), {
      error: 'Paste PEM certificates (-----BEGIN CERTIFICATE----- …).',
    }),
});
export type SyslogSettings = z.infer<typeof syslogSettingsSchema>;

/** RFC 5424 severity from the event's status: failures are errors, partial results warnings. */
function severity(status: string): number {
  if (status === 'failed') return 3;
  if (status === 'partially_succeeded' || status === 'warning' || status === 'canceled') return 4;
  return 6;
}

/** Facility 13 (log audit) for the Security audit, 16 (local0) for the rest. */
function facility(event: IntegrationEvent): number {
  return event.log === 'audit' ? 13 : 16;
}

const sdValue = (v: string) => v.replace(/[\\"\]]/g, (c) => `\\${c}`);
const cefHeader = (v: string) => v.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
const cefValue = (v: string) =>
  v
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, '\\n')
    .replace(/\r/g, '\\r');

/** CEF severity (0–10) of the event. */
function cefSeverity(status: string): number {
  return { 3: 8, 4: 5 }[severity(status)] ?? 3;
}

/** The event as a CEF line (ArcSight Common Event Format, version 0). */
export function cefLine(event: IntegrationEvent): string {
  const details = event.details;
  const text = String(details.summary ?? details.description ?? details.message ?? '');
  const ext: [string, string | number | null | undefined][] = [
    ['rt', Date.parse(event.time)],
    ['externalId', event.id],
    ['outcome', event.status],
    ['suser', event.actor],
    ['src', details.ip as string | undefined],
    ['cs1Label', 'organization'],
    ['cs1', [...event.organization.path].join(' / ') || event.organization.name],
    ['cs2Label', 'organizationId'],
    ['cs2', event.organization.id],
    ['cs3Label', 'log'],
    ['cs3', event.log],
    ['msg', text],
  ];
  const extension = ext
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${cefValue(String(v))}`)
    .join(' ');
  const header = ['Holdfast', 'Holdfast', VERSION, event.action, event.action].map(cefHeader).join('|');
  return `CEF:0|${header}|${cefSeverity(event.status)}|${extension}`;
}

/** One RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG. */
export function syslogMessage(event: IntegrationEvent, format: SyslogSettings['format']): string {
  const pri = facility(event) * 8 + severity(event.status);
  const sd = `[${SD_ID} id="${sdValue(event.id)}"]`;
  const msg = format === 'cef' ? cefLine(event) : JSON.stringify(event);
  return `<${pri}>1 ${event.time} holdfast holdfast - ${event.log} ${sd} ${msg}`;
}

/** RFC 5425 framing: the message's length in octets, a space, the message. */
export function frame(message: string): string {
  return `${Buffer.byteLength(message)} ${message}`;
}

function write(settings: SyslogSettings, allowPrivate: boolean, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const where = `${settings.host}:${settings.port}`;
    const socket = connect({
      host: settings.host,
      port: settings.port,
      ...(isIP(settings.host) ? {} : { servername: settings.host }),
      ...(settings.ca ? { ca: settings.ca } : {}),
      lookup: guardedLookup(allowPrivate),
      timeout: TIMEOUT_MS,
    });
    let failed = false;
    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      socket.destroy();
      reject(new IntegrationSendError(`The syslog collector at ${where} ${reason}`));
    };
    socket.on('timeout', () => fail(`did not answer within ${TIMEOUT_MS / 1000} s.`));
    socket.on('error', (err) => fail(`could not be reached over TLS: ${err.message}`));
    socket.once('secureConnect', () => socket.end(payload));
    socket.on('close', (hadError) => {
      if (!hadError && !failed) resolve();
      else fail('closed the connection before the events were written.');
    });
  });
}

export const syslogKind: IntegrationKind<SyslogSettings> = {
  id: 'syslog',
  label: 'Syslog (TLS)',
  category: 'SIEM',
  description: 'Send the same events as RFC 5424 syslog over TLS, as JSON or CEF, to any SIEM’s collector.',
  fields: [
    { name: 'host', label: 'Collector host', type: 'text', placeholder: 'siem.example.com' },
    { name: 'port', label: 'Port', type: 'text', placeholder: '6514', hint: 'Syslog over TLS: 6514 by default.' },
    {
      name: 'format',
      label: 'Message format',
      type: 'select',
      options: [
        { value: 'json', label: 'JSON (the documented event)' },
        { value: 'cef', label: 'CEF (Common Event Format)' },
      ],
    },
    {
      name: 'ca',
      label: 'Certificate authority (PEM)',
      type: 'textarea',
      optional: true,
      hint: 'For a collector whose certificate is signed by your own authority. Left empty: the commonly trusted ones.',
    },
  ],
  schema: syslogSettingsSchema as never,
  target: (settings) => `${settings.host}:${settings.port} (${settings.format === 'cef' ? 'CEF' : 'JSON'})`,
  // The SSRF rule reads a URL: the host and port as one.
  address: (settings) => ({
    field: 'host',
    url: `https://${isIP(settings.host) === 6 ? `[${settings.host}]` : settings.host}:${settings.port}/`,
  }),

  async send(target, events): Promise<SendOutcome> {
    const payload = events.map((e) => frame(syslogMessage(e, target.settings.format))).join('');
    await write(target.settings, target.allowPrivate, payload);
    return { acknowledged: true };
  },
};
