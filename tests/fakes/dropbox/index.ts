// The Dropbox API v2 stand-in: see server.ts (HTTP, faults, counters), model.ts (team, namespaces,
// change log), oauth.ts (authorize/token/revoke) and content-hash.ts.
export { BLOCK_SIZE, ContentHasher, contentHash } from './content-hash.ts';
export {
  dropboxTime,
  type FileNode,
  type FolderNode,
  type Member,
  Namespace,
  nameProblem,
  type TeamFolder,
  TeamModel,
} from './model.ts';
export { FakeDropbox, type FakeDropboxOptions } from './server.ts';

/** The marker domain the SDK is given; its https:// URLs on it are sent to the stand-in instead. */
export const FAKE_DOMAIN = 'dropbox-stand-in.invalid';

/**
 * Options for `new Dropbox({...})` / `new DropboxAuth({...})` that send the SDK's requests to a
 * stand-in at `url`: the SDK builds https://api-<domain>/2/…, https://api-content-<domain>/2/…
 * and https://api-<domain>/oauth2/token for a custom domain, and this fetch maps them to `url`.
 */
export function sdkOptions(url: string): { domain: string; fetch: typeof fetch } {
  const prefix = new RegExp(`^https://[a-z-]*${FAKE_DOMAIN.replace(/\./g, '\\.')}/`);
  return {
    domain: FAKE_DOMAIN,
    fetch: (input, init) => fetch(String(input).replace(prefix, `${url}/`), init),
  };
}
