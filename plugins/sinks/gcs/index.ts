// The Google Cloud Storage sink plugin.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PermanentSinkError, type SinkPlugin } from '../../../core/plugins/sink.ts';
import type { ServiceAccountKey } from './gcs-sink.ts';

// The SDK loads when a sink is created, not when the registry is imported.
export type { GcsSinkOptions, ServiceAccountKey } from './gcs-sink.ts';

const optionalText = z
  .string()
  .trim()
  .transform((s) => s || undefined)
  .optional();

/** Parses a service-account key file's JSON; the message never quotes the key. */
export function parseServiceAccountKey(json: string): ServiceAccountKey {
  let parsed: Partial<ServiceAccountKey> & { type?: string };
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch {
    throw new PermanentSinkError('the service-account key is not valid JSON', undefined, { reason: 'auth' });
  }
  if (typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string') {
    throw new PermanentSinkError('the service-account key lacks client_email or private_key', undefined, {
      reason: 'auth',
    });
  }
  return {
    client_email: parsed.client_email,
    private_key: parsed.private_key,
    ...(parsed.project_id ? { project_id: parsed.project_id } : {}),
  };
}

const settings = z
  .object({
    bucket: z
      .string({ error: 'Enter the bucket name.' })
      .trim()
      .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, { error: 'Enter a valid bucket name.' })
      .describe('Bucket'),
    prefix: z.string().trim().default('').describe('Folder inside the bucket'),
    credentialsJson: optionalText.describe('Service-account key (the JSON key file’s content)'),
    keyFile: optionalText.describe('Path of a service-account JSON key file (instead of credentialsJson)'),
    projectId: optionalText.describe('Project id (default: the key’s project)'),
    apiEndpoint: z
      .string()
      .trim()
      .refine((u) => /^https?:\/\/[^/\s]+/.test(u), { error: 'Use a URL such as https://storage.example.com.' })
      .optional()
      .describe('Another JSON API endpoint (default: Google’s)'),
    // Object retention: with both set, every pack, index and snapshot object is written with a
    // retain-until time the period ahead (the bucket needs object retention enabled; the connection
    // test proves it).
    retentionMode: z
      .enum(['Unlocked', 'Locked'])
      .optional()
      .describe('Object retention mode (Locked: nobody can shorten it; Unlocked: a privileged user can)'),
    immutabilityDays: z
      .number()
      .int()
      .min(1, { error: 'Enter 1 day or more.' })
      .max(3650, { error: 'Enter at most 3650 days.' })
      .optional()
      .describe('Immutability period in days (each object stays locked this long, renewed while in use)'),
    chunkSizeMiB: z.number().int().min(1).max(1024).default(8).describe('Resumable upload chunk size in MiB'),
  })
  .superRefine((s, ctx) => {
    if (s.retentionMode && !s.immutabilityDays)
      ctx.addIssue({ code: 'custom', path: ['immutabilityDays'], message: 'Enter how many days objects stay locked.' });
    if (s.immutabilityDays && !s.retentionMode)
      ctx.addIssue({ code: 'custom', path: ['retentionMode'], message: 'Choose a retention mode for the period.' });
  });

export type GcsSettings = z.infer<typeof settings>;

const gcsSinkPlugin: SinkPlugin<GcsSettings> = {
  kind: 'gcs',
  label: 'Google Cloud Storage',
  settings,
  secretSettings: ['credentialsJson'],
  operatorOnlySettings: ['keyFile'],
  primarySettings: ['bucket', 'prefix', 'credentialsJson', 'projectId', 'apiEndpoint'],
  // Without a key the client falls back to the appliance's default application credentials.
  tenantCredentialProblems: (_settings, secrets): Record<string, string> =>
    secrets.credentialsJson ? {} : { credentialsJson: "Paste the service account's JSON key." },
  immutability: (s) =>
    s.retentionMode && s.immutabilityDays ? { mode: s.retentionMode, days: s.immutabilityDays } : undefined,
  create: async (s, options = {}) => {
    const { GcsSink } = await import('./gcs-sink.ts');
    const json = s.credentialsJson ?? (s.keyFile ? readFileSync(s.keyFile, 'utf8') : undefined);
    return new GcsSink({
      bucket: s.bucket,
      prefix: s.prefix,
      credentials: json === undefined ? undefined : parseServiceAccountKey(json),
      projectId: s.projectId,
      apiEndpoint: s.apiEndpoint,
      retentionMode: s.retentionMode,
      immutabilityDays: s.immutabilityDays,
      chunkSizeBytes: s.chunkSizeMiB * 1024 * 1024,
      ...(options.retry?.attempts ? { maxRetries: options.retry.attempts - 1 } : {}),
    });
  },
};

export default gcsSinkPlugin;
