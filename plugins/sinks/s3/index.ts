// The S3 sink plugin: AWS S3 and S3-compatible stores (MinIO, Ceph RGW, Wasabi, Backblaze B2,
// Cloudflare R2, Garage, SeaweedFS).
import { z } from 'zod';
import type { SinkPlugin } from '../../../core/plugins/sink.ts';

// The SDK loads when a sink is created, not when the registry is imported.
export type { S3SinkOptions } from './s3-sink.ts';

const optionalText = z
  .string()
  .trim()
  .transform((s) => s || undefined)
  .optional();

const settings = z
  .object({
    endpoint: z
      .string()
      .trim()
      .refine((u) => /^https?:\/\/[^/\s]+/.test(u), { error: 'Use a URL such as https://s3.example.com:9000.' })
      .optional()
      .describe('S3-compatible endpoint URL; leave out for AWS S3'),
    region: z.string().trim().min(1).default('us-east-1').describe('Region (any value for most S3-compatible stores)'),
    bucket: z
      .string({ error: 'Enter the bucket name.' })
      .trim()
      .regex(/^[a-z0-9][a-z0-9.\-_]{1,254}$/i, { error: 'Enter a valid bucket name (3–255 letters, digits, . - _).' })
      .describe('Bucket'),
    prefix: z.string().trim().default('').describe('Folder inside the bucket'),
    accessKeyId: optionalText.describe('Access key id (default: the AWS credential chain)'),
    secretAccessKey: optionalText.describe('Secret access key'),
    sessionToken: optionalText.describe('Session token for temporary credentials'),
    forcePathStyle: z.boolean().default(false).describe('Path-style URLs (MinIO and most self-hosted stores)'),
    caFile: optionalText.describe('PEM file of certificate authorities to trust (self-signed endpoints)'),
    conditionalWrites: z
      .enum(['auto', 'native', 'emulated'])
      .default('auto')
      .describe('If-None-Match creates: auto-detect, always, or emulate (HEAD then PUT)'),
    // Object Lock: with both set, every pack, index and snapshot object is written locked for the
    // period (the bucket must have been created with Object Lock; the connection test proves it).
    objectLockMode: z
      .enum(['GOVERNANCE', 'COMPLIANCE'])
      .optional()
      .describe('Object Lock mode (COMPLIANCE: nobody can shorten a lock; GOVERNANCE: a privileged user can)'),
    immutabilityDays: z
      .number()
      .int()
      .min(1, { error: 'Enter 1 day or more.' })
      .max(3650, { error: 'Enter at most 3650 days.' })
      .optional()
      .describe('Immutability period in days (each object stays locked this long, renewed while in use)'),
    serverSideEncryption: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional().describe('Server-side encryption'),
    sseKmsKeyId: optionalText.describe('KMS key id for aws:kms encryption'),
    partSizeMiB: z.number().int().min(5).max(5120).default(8).describe('Multipart part size in MiB'),
    concurrency: z.number().int().min(1).max(64).default(4).describe('Parts uploaded at once per object'),
  })
  .superRefine((s, ctx) => {
    if (s.objectLockMode && !s.immutabilityDays)
      ctx.addIssue({ code: 'custom', path: ['immutabilityDays'], message: 'Enter how many days objects stay locked.' });
    if (s.immutabilityDays && !s.objectLockMode)
      ctx.addIssue({ code: 'custom', path: ['objectLockMode'], message: 'Choose an Object Lock mode for the period.' });
  });

export type S3Settings = z.infer<typeof settings>;

const s3SinkPlugin: SinkPlugin<S3Settings> = {
  kind: 's3',
  label: 'Amazon S3 or S3-compatible',
  settings,
  secretSettings: ['secretAccessKey', 'sessionToken'],
  operatorOnlySettings: ['caFile'],
  primarySettings: ['endpoint', 'region', 'bucket', 'prefix', 'accessKeyId', 'secretAccessKey', 'forcePathStyle'],
  // Without a key pair the SDK falls back to the appliance's AWS credential chain.
  tenantCredentialProblems: (settings, secrets): Record<string, string> => {
    if (settings.accessKeyId && secrets.secretAccessKey) return {};
    return settings.accessKeyId
      ? { secretAccessKey: 'Enter the secret access key.' }
      : { accessKeyId: 'Enter the access key id and secret of this storage.' };
  },
  immutability: (s) =>
    s.objectLockMode && s.immutabilityDays ? { mode: s.objectLockMode, days: s.immutabilityDays } : undefined,
  create: async (s, options = {}) => {
    const { S3Sink } = await import('./s3-sink.ts');
    return new S3Sink({
      endpoint: s.endpoint,
      region: s.region,
      bucket: s.bucket,
      prefix: s.prefix,
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      sessionToken: s.sessionToken,
      forcePathStyle: s.forcePathStyle,
      caFile: s.caFile,
      conditionalWrites: s.conditionalWrites,
      objectLockMode: s.objectLockMode,
      immutabilityDays: s.immutabilityDays,
      serverSideEncryption: s.serverSideEncryption,
      sseKmsKeyId: s.sseKmsKeyId,
      partSizeBytes: s.partSizeMiB * 1024 * 1024,
      concurrency: s.concurrency,
      retry: options.retry,
    });
  },
};

export default s3SinkPlugin;
