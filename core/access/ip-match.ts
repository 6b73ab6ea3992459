// Parsing and matching of IP rule entries: a single address, a CIDR block or a from-to range,
// IPv4 or IPv6. IPv4-mapped IPv6 addresses (::ffff:192.0.2.1, what a dual-stack socket
// reports) are treated as the IPv4 address they carry, and mapped blocks as IPv4 blocks. Addresses
// are parsed by ip-address; blocks are worked out here on bigints.
import { Address4, Address6 } from 'ip-address';

export interface IpSpan {
  version: 4 | 6;
  from: bigint;
  to: bigint;
}

export class IpEntryError extends Error {}

function bigintOf(a: Address4 | Address6): bigint {
  const hex = a instanceof Address4 ? a.toHex() : a.canonicalForm();
  return BigInt(`0x${hex.replace(/:/g, '')}`);
}

function parseAddress(
  text: string,
  options: { keepMapped?: boolean } = {},
): { version: 4 | 6; value: bigint; canonical: string } | undefined {
  const value = text.trim();
  if (Address4.isValid(value) && !value.includes('/')) {
    const a = new Address4(value);
    return { version: 4, value: bigintOf(a), canonical: a.correctForm() };
  }
  if (Address6.isValid(value) && !value.includes('/') && !value.includes('%')) {
    const a = new Address6(value);
    if (a.is4() && !options.keepMapped) {
      const v4 = a.to4();
      return { version: 4, value: bigintOf(v4), canonical: v4.correctForm() };
    }
    return { version: 6, value: bigintOf(a), canonical: a.correctForm() };
  }
  return undefined;
}

const BITS = { 4: 32n, 6: 128n } as const;
const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96

function formatAddress(version: 4 | 6, value: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return new Address6(groups.join(':')).correctForm();
}

/**
 * A CIDR block, aligned to its network address. An IPv4-mapped IPv6 block (::ffff:127.0.0.0/104)
 * is the IPv4 block it covers (127.0.0.0/8: the prefix less the 96 mapped bits); a mapped
 * address with a prefix under 96 would reach past the mapped range and is refused.
 */
function parseCidr(text: string): { entry: string; span: IpSpan } {
  const invalid = () => new IpEntryError(`"${text}" is not a valid CIDR block (like 192.0.2.0/24).`);
  const [addressText = '', prefixText = '', ...rest] = text.split('/');
  if (rest.length > 0 || !/^\d{1,3}$/.test(prefixText)) throw invalid();
  const address = parseAddress(addressText, { keepMapped: true });
  if (!address) throw invalid();
  let { version, value } = address;
  let prefix = BigInt(prefixText);
  if (version === 6 && value >> 32n === MAPPED_PREFIX >> 32n) {
    if (prefix < 96n) {
      throw new IpEntryError(
        `"${text}" reaches past the IPv4-mapped addresses (::ffff:0:0/96); write the IPv4 block instead, like 127.0.0.0/8.`,
      );
    }
    version = 4;
    value &= 0xffffffffn;
    prefix -= 96n;
  }
  const bits = BITS[version];
  if (prefix > bits) {
    throw new IpEntryError(`"${text}" has too long a prefix: an IPv${version} block is at most /${bits}.`);
  }
  const hostMask = (1n << (bits - prefix)) - 1n;
  const from = value & ~hostMask;
  return { entry: `${formatAddress(version, from)}/${prefix}`, span: { version, from, to: from | hostMask } };
}

/** Reads one entry and returns it normalized, or throws IpEntryError with a message for the user. */
export function normalizeEntry(raw: string): { entry: string; span: IpSpan } {
  const text = raw.trim();
  if (!text) throw new IpEntryError('Enter an address, a CIDR block or a range.');
  if (text.includes('/')) return parseCidr(text);
  if (text.includes('-')) {
    const [fromText, toText, ...rest] = text.split('-');
    const from = parseAddress(fromText ?? '');
    const to = parseAddress(toText ?? '');
    if (rest.length > 0 || !from || !to) {
      throw new IpEntryError(`"${text}" is not a valid range; write it as 192.0.2.10-192.0.2.20.`);
    }
    if (from.version !== to.version) throw new IpEntryError(`"${text}" mixes an IPv4 and an IPv6 address.`);
    if (from.value > to.value) throw new IpEntryError(`"${text}" ends before it starts.`);
    return {
      entry: `${from.canonical}-${to.canonical}`,
      span: { version: from.version, from: from.value, to: to.value },
    };
  }
  const address = parseAddress(text);
  if (!address) throw new IpEntryError(`"${text}" is not a valid IPv4 or IPv6 address.`);
  return { entry: address.canonical, span: { version: address.version, from: address.value, to: address.value } };
}

export function spanOf(entry: string): IpSpan {
  return normalizeEntry(entry).span;
}

/**
 * True when the address lies in any of the entries. An unparsable address matches nothing, and
 * so does an entry that cannot be read: access is denied rather than the request failing.
 */
export function addressMatches(address: string | undefined, entries: readonly string[]): boolean {
  if (!address) return false;
  const parsed = parseAddress(address);
  if (!parsed) return false;
  return entries.some((entry) => {
    let span: IpSpan;
    try {
      span = spanOf(entry);
    } catch {
      return false;
    }
    return span.version === parsed.version && parsed.value >= span.from && parsed.value <= span.to;
  });
}

export function isValidAddress(address: string): boolean {
  return parseAddress(address) !== undefined;
}
