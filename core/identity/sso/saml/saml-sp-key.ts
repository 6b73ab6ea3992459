// The service provider's own key pair for one SAML provider: an RSA key and a self-signed
// certificate made when the provider is first saved. It signs AuthnRequests and LogoutRequests
// (when the administrator turns signing on) and decrypts encrypted assertions; the certificate is
// published in the SP metadata (use="signing" and use="encryption"). The private key is kept with
// the provider's sealed secrets, never shown; the certificate is public.
import { generate } from 'selfsigned';

export interface SamlSpKey {
  privateKey: string;
  certificate: string;
}

/** Ten years: IdPs pin the certificate from the metadata; a rollover is a new provider key. */
const VALIDITY_MS = 10 * 365 * 86_400_000;

export async function generateSpKey(entityName: string, now = new Date()): Promise<SamlSpKey> {
  const pems = await generate([{ name: 'commonName', value: entityName.slice(0, 64) || 'Holdfast SAML SP' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + VALIDITY_MS),
  });
  return { privateKey: pems.private, certificate: pems.cert };
}
