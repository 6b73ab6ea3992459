// The one place the kernel names built-in plugins. Everything else finds plugins through here.
import azureSinkPlugin from '../../plugins/sinks/azure/index.ts';
import gcsSinkPlugin from '../../plugins/sinks/gcs/index.ts';
import localSinkPlugin from '../../plugins/sinks/local/index.ts';
import s3SinkPlugin from '../../plugins/sinks/s3/index.ts';
import type { SinkPlugin } from './sink.ts';

export const sinkPlugins: readonly SinkPlugin<never>[] = [
  localSinkPlugin as SinkPlugin<never>,
  s3SinkPlugin as SinkPlugin<never>,
  azureSinkPlugin as SinkPlugin<never>,
  gcsSinkPlugin as SinkPlugin<never>,
];

export function sinkPlugin(kind: string): SinkPlugin<unknown> | undefined {
  return sinkPlugins.find((p) => p.kind === kind) as SinkPlugin<unknown> | undefined;
}
