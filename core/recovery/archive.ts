// Writing export archives as streams: ZIP (yazl: streaming, ZIP64 for large files and archives)
// or TAR (tar-stream, which the repository's packs use already), optionally wrapped in an
// OpenPGP message. Entries are added one at a time and each is consumed before the next is
// opened, so memory holds one entry's buffers whatever the export's size (the ZIP central
// directory, written at the end, keeps one small record per entry).
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { ZipFile } from 'yazl';
import type { ExportFormat } from './entities.ts';

export interface ArchiveWriter {
  /** The archive's bytes. */
  readonly output: Readable;
  /**
   * Adds a file; resolves when its content has been consumed. `size` may be undefined for ZIP only
   * (yazl then writes a data descriptor); TAR headers need it first.
   */
  addFile(name: string, size: number | undefined, mtime: Date, content: Readable): Promise<void>;
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
      zip.addReadStream(content, name, { ...(size === undefined ? {} : { size }), mtime, compress: true });
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
      if (size === undefined) throw new Error(`a TAR entry needs its size first: ${name}`);
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
  // Loaded here, for an encrypted export, not with the server (storage/keys.ts).
  const openpgp = await import('openpgp');
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

/** An entry whose name in the archive is not the item's path, and why. */
export interface RenamedEntry {
  original: string;
  stored: string;
  reason: string;
}

/** The file listing renamed entries, written into the archive when there are any. */
export const RENAMED_MANIFEST = 'holdfast-renamed-entries.json';

/** Longest name (one path segment) the common file systems hold, in UTF-8 bytes. */
const MAX_SEGMENT_BYTES = 255;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what ZIP readers mangle
const ZIP_UNSAFE = /[\u0000-\u001f\u007f\\]/g;

/** A visible stand-in: control characters as their Control Pictures (␀ … ␟, ␡), `\` as `＼`. */
function visible(char: string): string {
  const code = char.charCodeAt(0);
  if (code === 0x5c) return '\uff3c';
  return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
}

/** Cuts a name to at most `max` UTF-8 bytes (whole code points) and marks the cut with "…". */
function shortened(segment: string, max: number): string {
  let out = '';
  let bytes = 0;
  const budget = max - Buffer.byteLength('…');
  for (const char of segment) {
    const size = Buffer.byteLength(char);
    if (bytes + size > budget) break;
    out += char;
    bytes += size;
  }
  return `${out}…`;
}

/**
 * Names inside an archive: the item's path with its names kept byte for byte where the format
 * can hold them. TAR (PAX headers for long and non-ASCII names) changes only what no file system
 * can hold: NUL, "." and ".." as names, names over 255 bytes. ZIP also replaces `\` (a path
 * separator to ZIP readers) and control characters with visible stand-ins. Two entries with the
 * same name get " (2)", " (3)"… Every change is listed in `renamed`, which the export writes into
 * the archive (RENAMED_MANIFEST) and into the job log.
 */
export class EntryNames {
  readonly #format: ExportFormat;
  readonly #taken = new Set<string>();
  readonly renamed: RenamedEntry[] = [];

  constructor(format: ExportFormat = 'zip') {
    this.#format = format;
  }

  name(path: string, folder = false): string {
    const reasons = new Set<string>();
    const segments = path
      .split('/')
      .filter((s) => s !== '')
      .map((segment) => {
        let s = segment;
        if (s.includes('\0')) {
          s = s.replace(/\0/g, visible);
          reasons.add('NUL cannot be part of a name');
        }
        if (this.#format === 'zip') {
          const safe = s.replace(ZIP_UNSAFE, visible);
          if (safe !== s) reasons.add('ZIP cannot hold a backslash or control characters in a name');
          s = safe;
        }
        if (s === '.' || s === '..') {
          s = s.replace(/\./g, '\uff0e');
          reasons.add('"." and ".." cannot be names');
        }
        if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) {
          s = shortened(s, MAX_SEGMENT_BYTES);
          reasons.add(`names are at most ${MAX_SEGMENT_BYTES} bytes`);
        }
        return s;
      });
    const base = segments.join('/') || 'item';
    let candidate = base;
    for (let n = 2; this.#taken.has(candidate); n++) {
      const dot = base.lastIndexOf('.');
      const slash = base.lastIndexOf('/');
      candidate = dot > slash + 1 && !folder ? `${base.slice(0, dot)} (${n})${base.slice(dot)}` : `${base} (${n})`;
      reasons.add('another entry has the same name');
    }
    this.#taken.add(candidate);
    const original = path.replace(/^\/+|\/+$/g, '');
    if (candidate !== original) {
      this.renamed.push({ original, stored: candidate, reason: [...reasons].join('; ') || 'empty name' });
    }
    return folder ? `${candidate}/` : candidate;
  }

  /** The manifest's content: every renamed entry, original → stored. */
  manifest(): Buffer {
    return Buffer.from(`${JSON.stringify({ renamed: this.renamed }, null, 2)}\n`);
  }
}
