// What a node does (HOLDFAST_NODE_ROLE) and whether the appliance runs as several nodes. Several
// nodes share one PostgreSQL database and object storage; each node's own disk is reachable by
// that node only, so local-disk storage is refused in multi-node mode. The rule is one any node
// can apply from its own configuration: PostgreSQL with a split role (web or worker) means other
// nodes exist. Several `both` nodes on one PostgreSQL are allowed only on a shared filesystem
// mounted at the same HOLDFAST_STORAGE_DIR everywhere (docs/OPERATIONS.md, "Several nodes").
import { databaseKind } from '../../config/orm.ts';
import { AppError } from '../errors.ts';

export type NodeRole = 'web' | 'worker' | 'both';

/** Serves the UI and the API (a worker node answers /healthz only). */
export function servesWeb(role: NodeRole): boolean {
  return role !== 'worker';
}

/** Claims and runs jobs, ticks the scheduler and runs the senders. */
export function runsJobs(role: NodeRole): boolean {
  return role !== 'web';
}

export function multiNodeMode(config: { databaseUrl?: string | undefined; nodeRole: NodeRole }): boolean {
  return databaseKind(config) === 'postgresql' && config.nodeRole !== 'both';
}

export const NODE_LOCAL_STORAGE_REFUSED =
  "Local-disk storage is refused in multi-node mode (PostgreSQL with HOLDFAST_NODE_ROLE web or worker): the other nodes cannot reach this node's disk. Use an object storage location.";

/** A backup or restore reached a local-disk location in multi-node mode. */
export class NodeLocalStorageRefusedError extends AppError {
  constructor(location: string) {
    super(
      'node_local_storage_refused',
      `The storage location "${location}" is on local disk. ${NODE_LOCAL_STORAGE_REFUSED}`,
      409,
    );
    this.name = 'NodeLocalStorageRefusedError';
  }
}
