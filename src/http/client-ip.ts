/**
 * The client's address: the socket peer, or — only when the peer is one of
 * `server.trusted_proxies` — the nearest untrusted hop of `X-Forwarded-For`. Anyone can send
 * that header; believing it from an untrusted peer would let a client pick its own address and
 * escape per-address limits.
 */
import { isIP } from '../lib/ip'
import type { Context } from 'hono'
import ipaddr from 'ipaddr.js'

type Address = ReturnType<typeof ipaddr.parse>
export type TrustedProxies = readonly [Address, number][]

/** What requests answer when no socket is known (in-process `app.request()`). */
export const UNKNOWN_CLIENT = 'unknown'

/** Parses `server.trusted_proxies` (addresses and CIDR ranges, already validated by the config). */
export function parseTrustedProxies(list: readonly string[]): TrustedProxies {
  return list.map((entry) => {
    if (entry.includes('/')) {
      const [address, bits] = ipaddr.parseCIDR(entry)
      // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8: peers are compared as IPv4.
      const mapped = address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
      return (mapped ? [unmap(address), bits - 96] : [address, bits]) as [Address, number]
    }
    const address = unmap(ipaddr.parse(entry))
    return [address, address.kind() === 'ipv4' ? 32 : 128] as [Address, number]
  })
}

function unmap(address: Address): Address {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address
}

/** A strictly valid address, IPv4-mapped IPv6 turned into IPv4 (`::ffff:1.2.3.4` → `1.2.3.4`). */
function parseAddress(text: string): Address | null {
  const bare = text.trim().replace(/^\[(.*)\]$/, '$1')
  if (isIP(bare.replace(/%.*$/, '')) === 0) return null
  return unmap(ipaddr.parse(bare.replace(/%.*$/, '')))
}

function isTrusted(address: Address, trusted: TrustedProxies): boolean {
  return trusted.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits))
}

/** The socket peer when served by Bun.serve (Hono passes the server as `c.env`); else null. */
export function peerAddress(c: Context): string | null {
  const env = c.env as { requestIP?: unknown; server?: { requestIP?: unknown } } | undefined
  const server = env && typeof env === 'object' && 'server' in env ? env.server : env
  if (!server || typeof server.requestIP !== 'function') return null
  const info = (server.requestIP as (req: Request) => { address: string } | null)(c.req.raw)
  return info?.address ?? null
}

/** The client address of a request, as text; `unknown` when there is no socket. */
export function clientIp(c: Context, trusted: TrustedProxies): string {
  const peerText = peerAddress(c)
  const peer = peerText ? parseAddress(peerText) : null
  if (!peer) return peerText ?? UNKNOWN_CLIENT
  if (!isTrusted(peer, trusted)) return peer.toString()
  // Right to left: each trusted hop vouches for the one before it; the first untrusted hop is
  // the client. A malformed entry ends the walk at the last address we could believe.
  const hops = (c.req.header('x-forwarded-for') ?? '').split(',').filter((h) => h.trim() !== '')
  let client = peer
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseAddress(hops[i]!)
    if (!hop) break
    client = hop
    if (!isTrusted(hop, trusted)) break
  }
  return client.toString()
}

// The proxies each gateway trusts, set once when it opens (gateway.ts): the HTTP layer reads
// them without a new field on the domain's Deps.
const trustedByGateway = new WeakMap<object, TrustedProxies>()

/** Records `server.trusted_proxies` for the gateway whose deps these are. */
export function trustProxies(deps: object, list: readonly string[]): void {
  trustedByGateway.set(deps, parseTrustedProxies(list))
}

/** The client address of a request to the gateway whose deps these are. */
export function requestClientIp(c: Context, deps: object): string {
  return clientIp(c, trustedByGateway.get(deps) ?? [])
}
