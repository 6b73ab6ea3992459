// The one place the kernel names built-in plugins. Everything else finds plugins through here.
import localSinkPlugin from '../../plugins/sinks/local/index.ts';
import type { SinkPlugin } from './sink.ts';

export const sinkPlugins: readonly SinkPlugin<never>[] = [localSinkPlugin as SinkPlugin<never>];

export function sinkPlugin(kind: string): SinkPlugin<unknown> | undefined {
  return sinkPlugins.find((p) => p.kind === kind) as SinkPlugin<unknown> | undefined;
}
