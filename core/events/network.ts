import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network a source address belongs to, as the sharing signals count them: its /24 for IPv4, its /48 for IPv6 (a
 * household's usual allocation). The address itself never leaves the table. `undefined` for anything not an address.
 */
export function networkOf(address: string | undefined): string | undefined {
  if (!address) return undefined;
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(address)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return networkOf(mapped[1]);
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = address.includes('::') ? [...headGroups, ...Array(missing).fill('0'), ...tailGroups] : headGroups;
  const prefix = groups.slice(0, 3).map((g) => Number.parseInt(g, 16).toString(16));
  return `${prefix.join(':')}::/48`;
}
