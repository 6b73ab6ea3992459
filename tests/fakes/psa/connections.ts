// How the PSA tests connect an integration to each stand-in (autotask.ts, connectwise.ts): its
// settings and secret, the stand-ins' company ids for Northwind and Contoso, and the sentence an
// integration shows when the stand-in refuses the credentials.
import { startAutotask } from './autotask.ts';
import type { PsaStandIn } from './common.ts';
import { startConnectwise } from './connectwise.ts';

export interface PsaConnection {
  kind: 'autotask' | 'connectwise';
  label: string;
  start(): Promise<PsaStandIn>;
  settings(s: PsaStandIn): Record<string, unknown>;
  secret: string;
  northwind: number;
  contoso: number;
  refusal: string;
}

export const AUTOTASK: PsaConnection = {
  kind: 'autotask',
  label: 'Autotask',
  start: () => startAutotask(),
  settings: (s) => ({
    username: 'holdfast-api@msp.example',
    integrationCode: 'HOLDFASTTRACKINGID',
    zoneLookupUrl: s.url,
    queueId: '29682833',
    priority: '2',
  }),
  secret: 'autotask-secret-1',
  northwind: 174,
  contoso: 176,
  refusal:
    'Autotask refused the credentials (HTTP 401: Authorization has been denied for this request.). Check the API user, its secret and the integration code.',
};

export const CONNECTWISE: PsaConnection = {
  kind: 'connectwise',
  label: 'ConnectWise',
  start: () => startConnectwise(),
  settings: (s) => ({
    site: s.url,
    companyId: 'mspone',
    publicKey: 'pubKEY123',
    clientId: '5b0cbd2e-1111-4a5e-9b1a-8a3f00a1c0de',
    boardId: '1',
  }),
  secret: 'privKEY456',
  northwind: 19,
  contoso: 21,
  refusal:
    'ConnectWise refused the credentials (HTTP 401: Authentication failed.). Check the company id, the API member’s keys and the clientId.',
};
