// The Salesforce plugin's reader of retrieve zips: stored and deflated entries, folders skipped,
// and a damaged zip refused with a clear error.
import { describe, expect, it } from 'vitest';
import { ZipFile } from 'yazl';
import { unzip } from '../../../plugins/services/salesforce/zip.ts';

async function zipOf(entries: { name: string; body?: string; compress: boolean }[]): Promise<Buffer> {
  const z = new ZipFile();
  for (const e of entries) {
    if (e.body === undefined) z.addEmptyDirectory(e.name);
    else z.addBuffer(Buffer.from(e.body), e.name, { compress: e.compress });
  }
  z.end();
  const parts: Buffer[] = [];
  for await (const chunk of z.outputStream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('unzip', () => {
  it('reads stored and deflated files by name and skips folders', async () => {
    const zip = await zipOf([
      { name: 'classes', compress: false },
      { name: 'classes/A.cls', body: 'public class A {}', compress: false },
      { name: 'classes/B.cls', body: 'x'.repeat(5000), compress: true },
    ]);
    const files = unzip(zip);
    expect([...files.keys()]).toEqual(['classes/A.cls', 'classes/B.cls']);
    expect(files.get('classes/A.cls')?.toString()).toBe('public class A {}');
    expect(files.get('classes/B.cls')?.toString()).toBe('x'.repeat(5000));
  });

  it('refuses bytes that are not a zip', () => {
    expect(() => unzip(Buffer.from('not a zip at all, not even close to one'))).toThrow(/no end of central directory/);
  });
});
