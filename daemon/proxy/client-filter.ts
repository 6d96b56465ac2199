/**
 * Who may use the proxy. It fetches any URL a client names, so an exposed proxy without a filter
 * would be an open proxy: only clients inside `proxy.server.allowedClients` are served.
 */
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `::1/128`, or a bare address (a /32 or /128); undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** IPv4 clients on a dual-stack socket show up as `::ffff:a.b.c.d`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export class ClientFilter {
  readonly #allowed = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (!cidr) throw new RangeError(`"${text}" is not an address range`);
      this.#allowed.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }

  allows(remoteAddress: string | undefined): boolean {
    if (!remoteAddress) return false;
    const address = unmapped(remoteAddress);
    const version = isIP(address);
    if (version === 0) return false;
    return this.#allowed.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}
