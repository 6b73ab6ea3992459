// The local-disk sink plugin: a folder on this machine (or a mounted NAS) holds the repository.
import { z } from 'zod';
import type { SinkPlugin } from '../../../core/plugins/sink.ts';
import { LocalSink } from './local-sink.ts';

export { LocalSink, type LocalSinkOptions } from './local-sink.ts';

const settings = z.object({
  path: z
    .string({ error: 'Enter the folder that holds the backups.' })
    .trim()
    .min(1, { error: 'Enter the folder that holds the backups.' })
    .refine((p) => p.startsWith('/'), { error: 'Use an absolute path, such as /backups/holdfast.' })
    .describe('Folder'),
});

const localSinkPlugin: SinkPlugin<z.infer<typeof settings>> = {
  kind: 'local',
  label: 'Local disk',
  settings,
  secretSettings: [],
  // A folder on the appliance's own disks: a tenant could read or fill them.
  operatorOnly: true,
  // Another node of a multi-node appliance would not see this node's folder.
  nodeLocal: true,
  create: (s) => new LocalSink({ path: s.path }),
};

export default localSinkPlugin;
