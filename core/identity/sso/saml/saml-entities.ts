// The SAML assertions already used to sign in, each kept until it expires (its NotOnOrAfter plus
// the clock skew allowed): a second use of one is a replay (saml-replay.ts).
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const SamlAssertionUse = defineEntity({
  name: 'SamlAssertionUse',
  tableName: 'saml_assertion_uses',
  properties: {
    /** SHA-256 (hex) of the issuing IdP's entity ID and the assertion's ID. */
    key: p.string().primary().length(64),
    /** After this, the assertion is refused as expired anyway, and the row may go. */
    expiresAt: p.datetime().index(),
  },
});
export type ISamlAssertionUse = InferEntity<typeof SamlAssertionUse>;
