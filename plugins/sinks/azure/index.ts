// The Azure Blob Storage sink plugin.
import { z } from 'zod';
import type { SinkPlugin } from '../../../core/plugins/sink.ts';

// The SDK loads when a sink is created, not when the registry is imported.
export type { AzureSinkOptions } from './azure-sink.ts';

const optionalText = z
  .string()
  .trim()
  .transform((s) => s || undefined)
  .optional();

const settings = z
  .object({
    connectionString: optionalText.describe('Storage connection string (instead of account and key or SAS)'),
    accountName: optionalText.describe('Storage account name'),
    accountKey: optionalText.describe('Storage account key'),
    sasToken: optionalText.describe('SAS token (instead of the account key)'),
    endpoint: z
      .string()
      .trim()
      .refine((u) => /^https?:\/\/[^/\s]+/.test(u), {
        error: 'Use a URL such as https://account.blob.core.windows.net.',
      })
      .optional()
      .describe('Blob service URL (default https://<account>.blob.core.windows.net)'),
    container: z
      .string({ error: 'Enter the container name.' })
      .trim()
      .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, {
        error: 'Enter a valid container name (3–63 lowercase letters, digits and single hyphens).',
      })
      .describe('Container'),
    prefix: z.string().trim().default('').describe('Folder inside the container'),
    // Version-level immutability (WORM): with both set, every pack, index and snapshot object is
    // written with an immutability policy for the period (the container needs version-level
    // immutability support; the connection test proves it).
    immutabilityMode: z
      .enum(['Unlocked', 'Locked'])
      .optional()
      .describe(
        'Immutability policy mode (Locked: nobody can shorten or remove a policy; Unlocked: the account owner can)',
      ),
    immutabilityDays: z
      .number()
      .int()
      .min(1, { error: 'Enter 1 day or more.' })
      .max(3650, { error: 'Enter at most 3650 days.' })
      .optional()
      .describe('Immutability period in days (each object stays locked this long, renewed while in use)'),
    blockSizeMiB: z.number().int().min(1).max(4000).default(8).describe('Block size in MiB'),
    concurrency: z.number().int().min(1).max(64).default(4).describe('Blocks uploaded at once per object'),
  })
  .refine((s) => s.connectionString || (s.accountName && (s.accountKey || s.sasToken)), {
    error: 'Give a connection string, or an account name with an account key or a SAS token.',
    path: ['accountName'],
  })
  .refine((s) => !s.immutabilityMode || s.immutabilityDays, {
    error: 'Enter how many days objects stay locked.',
    path: ['immutabilityDays'],
  })
  .refine((s) => !s.immutabilityDays || s.immutabilityMode, {
    error: 'Choose an immutability mode for the period.',
    path: ['immutabilityMode'],
  });

export type AzureSettings = z.infer<typeof settings>;

const azureSinkPlugin: SinkPlugin<AzureSettings> = {
  kind: 'azure',
  label: 'Azure Blob Storage',
  settings,
  secretSettings: ['connectionString', 'accountKey', 'sasToken'],
  primarySettings: ['connectionString', 'accountName', 'accountKey', 'sasToken', 'endpoint', 'container', 'prefix'],
  immutability: (s) =>
    s.immutabilityMode && s.immutabilityDays ? { mode: s.immutabilityMode, days: s.immutabilityDays } : undefined,
  create: async (s, options = {}) => {
    const { AzureSink } = await import('./azure-sink.ts');
    return new AzureSink({
      connectionString: s.connectionString,
      accountName: s.accountName,
      accountKey: s.accountKey,
      sasToken: s.sasToken,
      endpoint: s.endpoint,
      container: s.container,
      prefix: s.prefix,
      immutabilityMode: s.immutabilityMode,
      immutabilityDays: s.immutabilityDays,
      blockSizeBytes: s.blockSizeMiB * 1024 * 1024,
      concurrency: s.concurrency,
      retry: options.retry,
    });
  },
};

export default azureSinkPlugin;
