// Writing export archives as streams: ZIP (yazl: streaming, ZIP64 for large files and archives)
// or TAR (tar-stream, which the repository's packs use already), optionally wrapped in an
// OpenPGP message. Entries are added one at a time and each is consumed before the next is
// opened, so memory holds one entry's buffers whatever the export's size (the ZIP central
// directory, written at the end, keeps one small record per entry).
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import * as openpgp from 'openpgp';
import tar from 'tar-stream';
import { ZipFile } from 'yazl';
import type { ExportFormat } from './entities.ts';

export interface ArchiveWriter {
  /** The archive's bytes. */
  readonly output: Readable;
  /** Adds a file; resolves when its content has been consumed. */
  addFile(name: string, size: number, mtime: Date, content: Readable): Promise<void>;
  addFolder(name: string, mtime: Date): Promise<void>;
  /** No more entries: the output ends after the archive's trailer. */
  finish(): void;
}

export function archiveWriter(format: ExportFormat): ArchiveWriter {
  return format === 'tar' ? tarWriter() : zipWriter();
}

function zipWriter(): ArchiveWriter {
  const zip = new ZipFile();
  const output = zip.outputStream as unknown as Readable;
  // yazl reports a content stream of the wrong length this way: the archive is broken, stop.
  zip.on('error', (err: Error) => output.destroy(err));
  return {
    output,
    async addFile(name, size, mtime, content) {
      // yazl does not watch the content stream for errors; finished() does.
      const done = finished(content);
      zip.addReadStream(content, name, { size, mtime, compress: true });
      await done;
    },
    async addFolder(name, mtime) {
      zip.addEmptyDirectory(name, { mtime });
    },
    finish() {
      zip.end();
    },
  };
}

function tarWriter(): ArchiveWriter {
  const pack = tar.pack();
  return {
    output: pack as unknown as Readable,
    async addFile(name, size, mtime, content) {
      const entry = pack.entry({ name, size, mtime, type: 'file', mode: 0o644 });
      await pipeline(content, entry);
    },
    async addFolder(name, mtime) {
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name, type: 'directory', mtime, mode: 0o755 }, (err) => (err ? reject(err) : resolve())),
      );
    },
    finish() {
      pack.finalize();
    },
  };
}

export type Encryption =
  | { kind: 'none' }
  | { kind: 'public_key'; armoredKey: string }
  | { kind: 'passphrase'; passphrase: string };

/**
 * Wraps a stream in a binary OpenPGP message (streamed). Plain SEIPD v1 (AES-256, MDC), not the
 * AEAD GCM the repository forces for its key files: GnuPG 2.2, which Debian ships, cannot read
 * RFC 9580 AEAD packets ("packet(3) with unknown version 6"), and an export must open with `gpg
 * --decrypt`.
 */
export async function encrypted(input: Readable, encryption: Encryption): Promise<Readable> {
  if (encryption.kind === 'none') return input;
  const message = await openpgp.createMessage({
    binary: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>,
    format: 'binary',
  });
  const config = { aeadProtect: false, preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256 };
  const stream =
    encryption.kind === 'passphrase'
      ? await openpgp.encrypt({ message, passwords: [encryption.passphrase], format: 'binary', config })
      : await openpgp.encrypt({
          message,
          encryptionKeys: await openpgp.readKey({ armoredKey: encryption.armoredKey }),
          format: 'binary',
          config,
        });
  return Readable.fromWeb(stream as unknown as import('node:stream/web').ReadableStream<Uint8Array>);
}

/** Names inside an archive: relative, '/'-separated, no '.', '..' or empty segments, unique. */
export class EntryNames {
  readonly #taken = new Set<string>();

  name(path: string, folder = false): string {
    const segments = path
      .replace(/\\/g, '/')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we drop
      .replace(/[\u0000-\u001f\u007f]/g, '')
      .split('/')
      .filter((s) => s !== '' && s !== '.' && s !== '..');
    const base = segments.join('/') || 'item';
    let candidate = base;
    for (let n = 2; this.#taken.has(candidate.toLowerCase()); n++) {
      const dot = base.lastIndexOf('.');
      const slash = base.lastIndexOf('/');
      candidate = dot > slash + 1 && !folder ? `${base.slice(0, dot)} (${n})${base.slice(dot)}` : `${base} (${n})`;
    }
    this.#taken.add(candidate.toLowerCase());
    return folder ? `${candidate}/` : candidate;
  }
}
