/**
 * Which registry a mirror request goes to, in Dragonfly's order: the `X-Dragonfly-Registry`
 * header, then containerd's `?ns=` (https when no scheme is given), then
 * `proxy.registryMirror.addr`. Client-given values are checked to be a bare `scheme://host[:port]`
 * so a request cannot smuggle a path, credentials or another scheme upstream. Pure: no I/O.
 */
import { BadProxyRequestError } from './errors.ts';

export interface Upstream {
  /** `scheme://host[:port]`, no trailing slash. */
  readonly base: string;
  readonly from: 'header' | 'ns' | 'config';
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

function registryBase(value: string, what: string): string {
  const text = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  const scheme = withScheme.slice(0, withScheme.indexOf(':')).toLowerCase();
  const rest = withScheme.slice(scheme.length + 3).replace(/\/$/, '');
  const port = HOST.exec(rest)?.[1];
  if ((scheme !== 'http' && scheme !== 'https') || !HOST.test(rest) || (port !== undefined && Number(port) > 65535)) {
    throw new BadProxyRequestError('NAME_INVALID', `${what} ${JSON.stringify(text.slice(0, 120))} is not a registry address like registry.example.com:5000 or https://registry.example.com`);
  }
  return `${scheme}://${rest.toLowerCase()}`;
}

export function chooseUpstream(input: { header?: string | undefined; ns?: string | null | undefined; configured: string }): Upstream {
  if (input.header) return { base: registryBase(input.header, 'X-Dragonfly-Registry'), from: 'header' };
  if (input.ns) return { base: registryBase(input.ns, 'ns='), from: 'ns' };
  return { base: registryBase(input.configured, 'proxy.registryMirror.addr'), from: 'config' };
}
