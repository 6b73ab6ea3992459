// The integration kinds the appliance offers (the contract is contract.ts).
import { autotaskKind } from './autotask.ts';
import { backupRadarKind } from './backup-radar.ts';
import { connectwiseKind } from './connectwise.ts';
import type { IntegrationKind } from './contract.ts';
import { splunkKind } from './splunk.ts';
import { syslogKind } from './syslog.ts';

export const INTEGRATION_KINDS: IntegrationKind[] = [
  splunkKind as never,
  syslogKind as never,
  autotaskKind as never,
  connectwiseKind as never,
  backupRadarKind as never,
];

export function integrationKind(id: string): IntegrationKind | undefined {
  return INTEGRATION_KINDS.find((k) => k.id === id);
}
