import { createHash } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));
const namespaces = new Map<string, Buffer>();

/**
 * A name-based UUID (RFC 9562 version 5, SHA-1), the same as `uuid`'s `v5(name, namespace)`, in a
 * fraction of its time: it hashes the name's UTF-8 bytes with node's crypto at once, where `uuid`
 * converts strings to byte arrays by hand (a GPS batch derives one id per ping: 20 a request).
 */
export function uuidV5(name: string, namespace: string): string {
  let ns = namespaces.get(namespace);
  if (!ns) {
    ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
    if (ns.length !== 16 || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(namespace))
      throw new TypeError(`Not a UUID namespace: ${namespace}`);
    namespaces.set(namespace, ns);
  }
  const b = createHash('sha1').update(ns).update(name, 'utf8').digest();
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = (i: number) => HEX[b[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
