// The form fields generated from the sink plugins' schemas, what each organization may use, how
// submitted values become settings, and the connection test's handling of a sink that fails to
// open or never answers.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { sinkPlugin } from '../../../core/plugins/registry.ts';
import { PermanentSinkError, type Sink, type SinkPlugin } from '../../../core/plugins/sink.ts';
import { testConnection } from '../../../core/storage-locations/connection-test.ts';
import {
  ambientCredentialProblems,
  fieldsOf,
  forbiddenSettingProblems,
  kindsFor,
  settingsFromInput,
} from '../../../core/storage-locations/fields.ts';

const root = { kind: 'root' } as IOrganization;
const partner = { kind: 'partner' } as IOrganization;

describe('storage location fields', () => {
  it('derives labels, hints, inputs and folding from the S3 schema', () => {
    const fields = fieldsOf(sinkPlugin('s3') as SinkPlugin<unknown>, root);
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    expect(byName.endpoint).toMatchObject({ label: 'S3-compatible endpoint URL', hint: 'Leave out for AWS S3' });
    expect(byName.bucket).toMatchObject({ label: 'Bucket', required: true, input: 'text', advanced: false });
    expect(byName.secretAccessKey).toMatchObject({ input: 'password', secret: true });
    expect(byName.forcePathStyle).toMatchObject({ input: 'checkbox', defaultValue: 'false' });
    expect(byName.conditionalWrites).toMatchObject({ input: 'select', choices: ['auto', 'native', 'emulated'] });
    expect(byName.partSizeMiB).toMatchObject({ input: 'number', advanced: true, defaultValue: '8' });
    expect(byName.caFile).toBeDefined();
  });

  it('shows a GCS key as a text area and hides appliance file paths from tenants', () => {
    const gcs = sinkPlugin('gcs') as SinkPlugin<unknown>;
    expect(fieldsOf(gcs, partner).find((f) => f.name === 'credentialsJson')?.input).toBe('textarea');
    expect(fieldsOf(gcs, partner).map((f) => f.name)).not.toContain('keyFile');
    expect(fieldsOf(sinkPlugin('s3') as SinkPlugin<unknown>, partner).map((f) => f.name)).not.toContain('caFile');
  });

  it('offers local disk only to the operator', () => {
    expect(kindsFor(root).map((k) => k.kind)).toEqual(['local', 's3', 'azure', 'gcs']);
    expect(kindsFor(partner).map((k) => k.kind)).toEqual(['s3', 'azure', 'gcs']);
  });

  it('turns form strings into settings: empty is unset, numbers parse, checkboxes are ticked or not', () => {
    const fields = fieldsOf(sinkPlugin('s3') as SinkPlugin<unknown>, partner);
    const settings = settingsFromInput(
      fields,
      { bucket: 'b', endpoint: '', partSizeMiB: '16', caFile: '/etc/shadow', other: 'x' },
      'form',
    );
    expect(settings).toEqual({ bucket: 'b', partSizeMiB: 16, forcePathStyle: false });
    expect(settingsFromInput(fields, { bucket: 'b', forcePathStyle: true }, 'json')).toEqual({
      bucket: 'b',
      forcePathStyle: true,
    });
  });

  it("asks tenants for their own credentials instead of the appliance's, as each sink's descriptor says", () => {
    const s3 = sinkPlugin('s3') as SinkPlugin<unknown>;
    const gcs = sinkPlugin('gcs') as SinkPlugin<unknown>;
    expect(ambientCredentialProblems(partner, s3, {}, {})).toHaveProperty('accessKeyId');
    expect(ambientCredentialProblems(partner, s3, { accessKeyId: 'a' }, {})).toHaveProperty('secretAccessKey');
    expect(ambientCredentialProblems(partner, s3, { accessKeyId: 'a' }, { secretAccessKey: 's' })).toEqual({});
    expect(ambientCredentialProblems(partner, gcs, {}, {})).toHaveProperty('credentialsJson');
    expect(ambientCredentialProblems(root, s3, {}, {})).toEqual({});
  });

  it("refuses a tenant's value for an operator-only setting instead of dropping it silently", () => {
    const s3 = sinkPlugin('s3') as SinkPlugin<unknown>;
    expect(forbiddenSettingProblems(partner, s3, { bucket: 'b', caFile: '/etc/shadow' })).toEqual({
      caFile: "Only the appliance's operator may set this.",
    });
    expect(forbiddenSettingProblems(partner, s3, { bucket: 'b', caFile: '' })).toEqual({});
    expect(forbiddenSettingProblems(root, s3, { caFile: '/etc/ssl/ca.pem' })).toEqual({});
  });
});

/** A plugin around a hand-made sink, for the connection test's edge cases. */
function fakePlugin(create: () => Sink | Promise<Sink>): SinkPlugin<unknown> {
  return { kind: 'fake', label: 'Fake store', settings: z.object({}), secretSettings: [], create };
}

describe('the connection test', () => {
  it('names a store that cannot be opened, without a stack', async () => {
    const result = await testConnection(
      fakePlugin(() => {
        throw new PermanentSinkError('the service-account key is not valid JSON', undefined, { reason: 'auth' });
      }),
      {},
    );
    expect(result).toMatchObject({ ok: false, step: 'open', reason: 'auth' });
    expect(result.sentence).toMatch(/^the Fake store location refused the credentials/);
    expect(result.detail).toBe('opening the store failed: the service-account key is not valid JSON');
  });

  it('gives up at its deadline on a store that never answers, and closes the sink', async () => {
    let closed = false;
    const never = new Promise<never>(() => undefined);
    const sink: Sink = {
      description: 'fake:hanging',
      capabilities: { conditionalWrites: 'native', retention: false },
      put: () => never,
      get: () => Promise.resolve(Readable.from([])),
      head: () => never,
      list: async function* () {},
      delete: () => Promise.resolve(),
      close: async () => {
        closed = true;
      },
    };
    const result = await testConnection(
      fakePlugin(() => sink),
      {},
      50,
    );
    expect(result).toMatchObject({ ok: false, reason: 'timeout', detail: 'no answer within 1 s' });
    expect(result.sentence).toBe('fake:hanging did not answer in time: check the network path to the endpoint.');
    expect(closed).toBe(true);
  });
});
