// Splunk HTTP Event Collector (seed 004 §7.6): a batch of events POSTed as concatenated JSON
// event objects with `Authorization: Splunk <token>`; with indexer acknowledgment on, each
// request names the integration's channel and the batch counts as delivered only when the ack
// endpoint says it is indexed.
import { z } from 'zod';
import { type IntegrationKind, IntegrationSendError, type SendOutcome, type SendTarget } from './contract.ts';
import type { IntegrationEvent } from './event-feed.ts';
import { postJson } from './http-json.ts';

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, { error: `Use at most ${max} characters.` })
    .optional()
    .transform((v) => v || undefined);

export const splunkSettingsSchema = z.object({
  url: z
    .string({ error: 'Enter the HTTP Event Collector URL.' })
    .trim()
    .min(1, { error: 'Enter the HTTP Event Collector URL.' })
    .max(2000, { error: 'Use at most 2000 characters.' }),
  source: optionalText(200),
  sourcetype: optionalText(200),
  index: optionalText(200),
  ack: z.boolean().default(false),
});
export type SplunkSettings = z.infer<typeof splunkSettingsSchema>;

/** HEC's error codes worth a sentence of their own (Splunk's "Format events for HEC" reference). */
function refusal(status: number, json: Record<string, unknown> | null, text: string): string {
  const said = typeof json?.text === 'string' ? json.text : text.trim().slice(0, 200);
  const code = typeof json?.code === 'number' ? json.code : null;
  if (status === 401 || status === 403 || code === 2 || code === 3 || code === 4) {
    return `Splunk refused the token (HTTP ${status}: ${said || 'no reason given'}). Check the HEC token.`;
  }
  if (code === 1) return `The HEC token is disabled in Splunk (HTTP ${status}).`;
  if (code === 10 || code === 11) {
    return `Splunk wants indexer acknowledgment settings to match (HTTP ${status}: ${said}).`;
  }
  return `Splunk answered HTTP ${status}${said ? `: ${said}` : ''}.`;
}

function eventUrl(raw: string): URL {
  return new URL(raw);
}

function ackUrl(raw: string, channel: string): URL {
  const url = new URL('/services/collector/ack', raw);
  url.searchParams.set('channel', channel);
  return url;
}

function headers(target: SendTarget<SplunkSettings>): Record<string, string> {
  return {
    authorization: `Splunk ${target.secret}`,
    'user-agent': 'Holdfast-Integrations/1',
    // The integration's id is its channel: the same across restarts, so acks can be asked for later.
    ...(target.settings.ack ? { 'x-splunk-request-channel': target.integrationId } : {}),
  };
}

/** The HEC body: one event object per event, concatenated (HEC's batch form). */
export function hecBody(settings: SplunkSettings, events: IntegrationEvent[]): string {
  return events
    .map((event) =>
      JSON.stringify({
        time: Date.parse(event.time) / 1000,
        host: 'holdfast',
        source: settings.source ?? 'holdfast',
        sourcetype: settings.sourcetype ?? '_json',
        ...(settings.index ? { index: settings.index } : {}),
        event,
      }),
    )
    .join('\n');
}

async function call(url: URL, target: SendTarget<SplunkSettings>, body: string) {
  try {
    return await postJson(url, headers(target), body, target.allowPrivate);
  } catch (err) {
    throw new IntegrationSendError(`Splunk did not answer at ${url.host}: ${(err as Error).message}`);
  }
}

export const splunkKind: IntegrationKind<SplunkSettings> = {
  id: 'splunk',
  label: 'Splunk',
  category: 'SIEM',
  description: 'Send activity and security audit events to a Splunk HTTP Event Collector.',
  fields: [
    {
      name: 'url',
      label: 'HTTP Event Collector URL',
      type: 'url',
      placeholder: 'https://splunk.example.com:8088/services/collector/event',
      hint: 'The collector must present a certificate from a commonly trusted authority.',
    },
    { name: 'source', label: 'Source', type: 'text', optional: true, placeholder: 'holdfast' },
    { name: 'sourcetype', label: 'Source type', type: 'text', optional: true, placeholder: '_json' },
    { name: 'index', label: 'Index', type: 'text', optional: true, hint: 'Left empty: the token’s default index.' },
    {
      name: 'ack',
      label: 'Indexer acknowledgment is on for this token',
      type: 'checkbox',
      hint: 'A batch then counts as delivered once Splunk confirms it is indexed.',
    },
  ],
  secret: { name: 'token', label: 'HEC token' },
  schema: splunkSettingsSchema as never,
  target: (settings) => settings.url,
  address: (settings) => ({ field: 'url', url: settings.url }),

  async send(target, events): Promise<SendOutcome> {
    const answer = await call(eventUrl(target.settings.url), target, hecBody(target.settings, events));
    if (answer.status < 200 || answer.status >= 300) {
      throw new IntegrationSendError(refusal(answer.status, answer.json, answer.text));
    }
    const ackId = answer.json?.ackId;
    if (target.settings.ack && typeof ackId === 'number') return { acknowledged: false, ackId };
    return { acknowledged: true };
  },

  async checkAck(target, ackId): Promise<boolean> {
    const url = ackUrl(target.settings.url, target.integrationId);
    const answer = await call(url, target, JSON.stringify({ acks: [ackId] }));
    if (answer.status < 200 || answer.status >= 300) {
      throw new IntegrationSendError(refusal(answer.status, answer.json, answer.text));
    }
    const acks = answer.json?.acks as Record<string, unknown> | undefined;
    return acks?.[String(ackId)] === true;
  },
};
