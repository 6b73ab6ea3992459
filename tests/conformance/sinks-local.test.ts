import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PermanentSinkError } from '../../core/plugins/sink.ts';
import localSinkPlugin, { LocalSink } from '../../plugins/sinks/local/index.ts';
import { runSinkConformance } from './sink-conformance.ts';

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'holdfast-sink-'));
}

runSinkConformance('local disk', async () => {
  const root = tempRoot();
  return {
    sink: new LocalSink({ path: join(root, 'repo') }),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
});

describe('local sink specifics', () => {
  it('lists keys alone (listKeys) exactly as list names them, in the same order', async () => {
    const root = tempRoot();
    try {
      const sink = new LocalSink({ path: root });
      for (const key of ['index/b', 'index/a', 'data/0f/pack2', 'data/00/pack1', 'keys/k', 'config'])
        await sink.put(key, Buffer.from(key));
      for (const prefix of ['', 'index/', 'data/', 'data/0', 'data/00/', 'nothing/']) {
        const listed: string[] = [];
        for await (const info of sink.list(prefix)) listed.push(info.key);
        const keys: string[] = [];
        for await (const key of sink.listKeys(prefix)) keys.push(key);
        expect(keys).toEqual(listed);
      }
      const all: string[] = [];
      for await (const key of sink.listKeys('')) all.push(key);
      expect(all).toEqual(['config', 'data/00/pack1', 'data/0f/pack2', 'index/a', 'index/b', 'keys/k']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('hands every chunk of a stream body back once it is in the file', async () => {
    const root = tempRoot();
    try {
      const sink = new LocalSink({ path: root });
      const pieces = Array.from({ length: 8 }, (_, i) => Buffer.alloc(100_000, i + 1));
      const written: Uint8Array[] = [];
      await sink.put('p', Readable.from(pieces), { onChunkWritten: (chunk) => written.push(chunk) });
      expect(written).toEqual(pieces);
      expect(written.every((chunk, i) => chunk === pieces[i])).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('leaves no temporary files after failed writes', async () => {
    const root = tempRoot();
    try {
      const sink = new LocalSink({ path: root });
      await expect(sink.put('a', Buffer.from('abc'), { contentLength: 9 })).rejects.toBeInstanceOf(PermanentSinkError);
      expect(await sink.leftovers()).toEqual([]);
      await sink.put('b', Buffer.from('abc'));
      expect(readdirSync(root).sort()).toEqual(['.tmp', 'b']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('removes temporary files of writes that died, once they are stale', async () => {
    const root = tempRoot();
    try {
      mkdirSync(join(root, '.tmp'), { recursive: true });
      const stale = join(root, '.tmp', 'dead.part');
      const fresh = join(root, '.tmp', 'live.part');
      writeFileSync(stale, 'half a pack');
      writeFileSync(fresh, 'being written');
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      utimesSync(stale, twoHoursAgo, twoHoursAgo);
      const sink = new LocalSink({ path: root });
      await sink.put('x', Buffer.from('x'));
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps every key inside its root', () => {
    const root = tempRoot();
    try {
      const sink = new LocalSink({ path: root });
      for (const bad of ['../x', 'a/../../x', 'a/./b', '.tmp/part'])
        expect(() => sink.pathOf(bad)).toThrow(PermanentSinkError);
      expect(sink.pathOf('data/ab/x')).toBe(join(root, 'data', 'ab', 'x'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses retention it cannot honour', async () => {
    const root = tempRoot();
    try {
      await expect(
        new LocalSink({ path: root }).put('a', Buffer.from('x'), { retainUntil: new Date() }),
      ).rejects.toThrow(/does not support retention/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('validates its settings with clear messages', () => {
    expect(localSinkPlugin.settings.safeParse({ path: '/backups' }).success).toBe(true);
    const relative = localSinkPlugin.settings.safeParse({ path: 'backups' });
    expect(relative.success ? '' : relative.error.issues[0]?.message).toBe(
      'Use an absolute path, such as /backups/holdfast.',
    );
  });
});
