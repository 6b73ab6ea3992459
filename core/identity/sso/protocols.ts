// The protocol modules the flow can use, by name (a static list: start-up does no scanning).
// A provider whose protocol has no module here cannot be saved or used: a clear error.
import { oidcProtocol } from './oidc/oidc-protocol.ts';
import type { SsoProtocol, SsoProtocolName } from './protocol.ts';
import { samlProtocol } from './saml/saml-protocol.ts';

const MODULES: Partial<Record<SsoProtocolName, SsoProtocol>> = {
  oidc: oidcProtocol,
  saml: samlProtocol,
};

export function ssoProtocol(name: SsoProtocolName): SsoProtocol | undefined {
  return MODULES[name];
}
