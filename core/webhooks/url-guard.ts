// Where a webhook may point (SSRF): https only, and never at loopback, private, link-local,
// unique-local or other non-public addresses, checked when an endpoint is saved and again when
// it is sent to, on the addresses the name resolves to at that moment (the connection uses the
// address that was checked, so a name cannot change its answer in between). An operator who
// runs receivers on the local network allows both with HOLDFAST_WEBHOOKS_ALLOW_PRIVATE=true.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** True for an address a webhook may not reach without the operator's permission. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return true;
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped) return blocked.check(mapped, 'ipv4');
  return blocked.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

export class WebhookTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookTargetError';
  }
}

/** Parses and checks a URL's form (scheme, no credentials); the address check comes after. */
export function parseWebhookUrl(raw: string, allowPrivate: boolean): URL {
  if (!URL.canParse(raw)) throw new WebhookTargetError('Enter a full URL, like https://hooks.example.com/holdfast.');
  const url = new URL(raw);
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    throw new WebhookTargetError('Use an https:// URL.');
  }
  if (url.username || url.password) {
    throw new WebhookTargetError('Leave the user name and password out of the URL; requests are signed instead.');
  }
  return url;
}

const PRIVATE_MESSAGE =
  'This address is on a private, loopback or link-local network; webhooks go to public addresses only.';

/** Resolves the URL's host and refuses it when any of its addresses is not public. */
export async function checkWebhookTarget(raw: string, allowPrivate: boolean): Promise<URL> {
  const url = parseWebhookUrl(raw, allowPrivate);
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    if (isPrivateAddress(host)) throw new WebhookTargetError(PRIVATE_MESSAGE);
    return url;
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    throw new WebhookTargetError(`The host name ${host} does not resolve.`);
  }
  if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address))) {
    throw new WebhookTargetError(PRIVATE_MESSAGE);
  }
  return url;
}

/**
 * A `lookup` for http(s).request that refuses names resolving to a non-public address, so the
 * connection goes to an address that passed the check.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { all: true, verbatim: true }).then(
      (addresses) => {
        const bad = !allowPrivate && (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address)));
        if (bad) {
          callback(new WebhookTargetError(`${hostname} resolves to a non-public address`), '', 4);
          return;
        }
        if ((options as { all?: boolean }).all) {
          (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addresses);
        } else {
          const first = addresses[0] as { address: string; family: number };
          callback(null, first.address, first.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 4),
    );
  };
}
