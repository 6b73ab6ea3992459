// jsforce as the plugin uses it: the core (Connection, OAuth2) and the two APIs it calls — Bulk
// API 2.0 (`conn.bulk2`) and the Metadata API (`conn.metadata`). The package's entry also loads
// the Streaming API (faye and its WebSocket drivers), Analytics, Chatter, Apex REST, Tooling and
// Bulk API 1.0: ~2 MiB more heap in every thread that connects a task (the job worker runs all
// of a task's backups), for APIs the plugin never calls.
import '@jsforce/jsforce-node/lib/api/bulk2.js';
import '@jsforce/jsforce-node/lib/api/metadata.js';

export { Connection, OAuth2 } from '@jsforce/jsforce-node/lib/core.js';
export { Transport } from '@jsforce/jsforce-node/lib/transport.js';
