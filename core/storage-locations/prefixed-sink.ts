// A sink seen through a key prefix: an organization's repository inside a shared location
// (bucket, container or folder) lives under "organizations/<id>/", and sees keys without it.
import type { Readable } from 'node:stream';
import type { GetOptions, ObjectInfo, PutOptions, Sink } from '../plugins/sink.ts';

export function prefixedSink(base: Sink, prefix: string): Sink {
  const strip = (info: ObjectInfo): ObjectInfo => ({ ...info, key: info.key.slice(prefix.length) });
  return {
    description: `${base.description}${base.description.endsWith('/') ? '' : '/'}${prefix.replace(/\/$/, '')}`,
    get capabilities() {
      return base.capabilities;
    },
    immutability: base.immutability,
    ...(base.extendRetention
      ? { extendRetention: (key: string, until: Date) => base.extendRetention?.(prefix + key, until) as Promise<void> }
      : {}),
    put: async (key: string, body: Uint8Array | Readable, options?: PutOptions) =>
      strip(await base.put(prefix + key, body, options)),
    get: (key: string, options?: GetOptions) => base.get(prefix + key, options),
    head: async (key: string) => strip(await base.head(prefix + key)),
    list: async function* (listPrefix: string) {
      for await (const info of base.list(prefix + listPrefix)) yield strip(info);
    },
    delete: (key: string) => base.delete(prefix + key),
    close: () => base.close(),
  };
}
