// Parsing and matching of IP rule entries: a single address, a CIDR block or a from-to range,
// IPv4 or IPv6. IPv4-mapped IPv6 addresses (::ffff:192.0.2.1, what a dual-stack socket
// reports) are treated as the IPv4 address they carry. Parsing is done by ip-cidr/ip-address.
import { Address4, Address6 } from 'ip-address';
import IPCIDR from 'ip-cidr';

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

function parseAddress(text: string): { version: 4 | 6; value: bigint; canonical: string } | undefined {
  const value = text.trim();
  if (Address4.isValid(value) && !value.includes('/')) {
    const a = new Address4(value);
    return { version: 4, value: bigintOf(a), canonical: a.correctForm() };
  }
  if (Address6.isValid(value) && !value.includes('/') && !value.includes('%')) {
    const a = new Address6(value);
    if (a.is4()) {
      const v4 = a.to4();
      return { version: 4, value: bigintOf(v4), canonical: v4.correctForm() };
    }
    return { version: 6, value: bigintOf(a), canonical: a.correctForm() };
  }
  return undefined;
}

/** Reads one entry and returns it normalized, or throws IpEntryError with a message for the user. */
export function normalizeEntry(raw: string): { entry: string; span: IpSpan } {
  const text = raw.trim();
  if (!text) throw new IpEntryError('Enter an address, a CIDR block or a range.');
  if (text.includes('/')) {
    if (!IPCIDR.isValidCIDR(text)) throw new IpEntryError(`"${text}" is not a valid CIDR block (like 192.0.2.0/24).`);
    const cidr = new IPCIDR(text);
    const start = bigintOf(cidr.addressStart);
    const end = bigintOf(cidr.addressEnd);
    const version = cidr.address instanceof Address4 ? 4 : 6;
    const prefix = text.split('/')[1];
    return { entry: `${cidr.addressStart.correctForm()}/${prefix}`, span: { version, from: start, to: end } };
  }
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

/** True when the address lies in any of the entries. An unparsable address matches nothing. */
export function addressMatches(address: string | undefined, entries: readonly string[]): boolean {
  if (!address) return false;
  const parsed = parseAddress(address);
  if (!parsed) return false;
  return entries.some((entry) => {
    const span = spanOf(entry);
    return span.version === parsed.version && parsed.value >= span.from && parsed.value <= span.to;
  });
}

export function isValidAddress(address: string): boolean {
  return parseAddress(address) !== undefined;
}
