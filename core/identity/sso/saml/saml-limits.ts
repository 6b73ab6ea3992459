// The size limits of SAML messages, apart from the modules that parse them, so the routes that
// read a form can name them without loading the SAML libraries (saml-protocol.ts loads those on
// first use).

/** The largest IdP metadata document read (a URL's answer or pasted XML). */
export const MAX_METADATA_BYTES = 512 * 1024;

/** The largest base64 SAMLResponse (or SAMLRequest) accepted. */
export const MAX_RESPONSE_BYTES = 256 * 1024;
