/**
 * The outbound-URL guard (DESIGN.md "Outbound URLs"): every URL a tenant controls goes through
 * here before the gateway opens a connection to it, so a tenant cannot make the gateway reach
 * its own loopback, the cloud metadata service or the operator's private network.
 *
 * Known limit (DNS rebinding): checkOutboundUrl resolves the host and checks the addresses, but
 * fetch resolves the name again when it connects; a hostile DNS server can answer a public
 * address to the check and a private one to fetch. Closing that needs connecting to the checked
 * address itself (a custom lookup/agent), which Bun's fetch does not offer yet.
 */
import ipaddr from 'ipaddr.js'
import { type GuardedFetch, TRUNCATED_HEADER } from '../connectors/types'
import { deadlineSignal } from './deadline'

export interface UrlGuardOptions {
  /** `security.allow_private_network`: tests and local demos turn it on. */
  allowPrivateNetwork: boolean
}

export type UrlRejectionReason = 'invalid_url' | 'scheme_not_allowed' | 'credentials_in_url' | 'private_address'

/** A URL the guard refuses; the message says why and, where it helps, how to allow it. */
export class UrlRejectedError extends Error {
  constructor(
    /** Stable machine code for the refusal. */
    readonly reason: UrlRejectionReason,
    message: string,
  ) {
    super(message)
    this.name = 'UrlRejectedError'
  }
}

const ALLOW_HINT = 'set security.allow_private_network to allow it'

/** Words for the message; any range not listed here and not `unicast` is refused as reserved. */
const RANGE_WORDS: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  private: 'a private address',
  uniqueLocal: 'a private address',
  carrierGradeNat: 'a carrier-grade NAT address',
  teredo: 'a Teredo tunnel address',
}

type Ip = ipaddr.IPv4 | ipaddr.IPv6

// 64:ff9b::/96 is NAT64: on an IPv6-only network every public IPv4 host appears under it, so it
// is judged by the IPv4 address it carries rather than refused wholesale.
const NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96')

/** The IPv4 address an IPv6 address stands for (mapped, translated, NAT64, 6to4, compatible). */
function embeddedIpv4(ip: ipaddr.IPv6, range: string): ipaddr.IPv4 | undefined {
  const p = ip.parts
  const low32 = () => new ipaddr.IPv4([p[6] >> 8, p[6] & 0xff, p[7] >> 8, p[7] & 0xff])
  if (range === 'ipv4Mapped' || range === 'rfc6145') return low32()
  if (range === 'rfc6052' && ip.match(NAT64)) return low32()
  if (range === '6to4') return new ipaddr.IPv4([p[1] >> 8, p[1] & 0xff, p[2] >> 8, p[2] & 0xff])
  // Deprecated IPv4-compatible form ::a.b.c.d; ipaddr.js calls it unicast.
  if (range === 'unicast' && p.slice(0, 6).every((part) => part === 0)) return low32()
  return undefined
}

/** Why an address is refused (e.g. "a private address"), or undefined when it is public. */
function refusedRange(ip: Ip): string | undefined {
  const range = ip.range()
  if (ip.kind() === 'ipv6') {
    const v4 = embeddedIpv4(ip as ipaddr.IPv6, range)
    if (v4) return refusedRange(v4)
  }
  // Allow-list rather than deny-list: a range ipaddr.js learns later is refused by default.
  if (range === 'unicast') return undefined
  return RANGE_WORDS[range] ?? 'a reserved address'
}

/** A resolver that does not answer must not hold a request (or a send) for long. */
const LOOKUP_TIMEOUT_MS = 5000

function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'ETIMEOUT' })), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** A URL as it may be shown back: the origin, with any path or query hidden. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return parsed.pathname === '/' && parsed.search === '' ? shown(parsed) : `${shown(parsed)}…`
  } catch {
    return '…'
  }
}

/**
 * For validating input (a channel's config, an attachment URL): why the URL is refused, or null.
 * Unlike at send time, a host that does not resolve is the user's mistake here, not a blip.
 */
export async function urlProblem(url: string, opts: UrlGuardOptions): Promise<string | null> {
  try {
    await checkOutboundUrl(url, opts)
    return null
  } catch (error) {
    if (error instanceof UrlRejectedError) return error.message
    const code = (error as { code?: string }).code ?? 'lookup failed'
    let origin = url
    try {
      origin = shown(new URL(url))
    } catch {}
    return `the host of ${origin} does not resolve (${code})`
  }
}

/** The origin only: paths and queries of webhook URLs often carry tokens, and messages get logged. */
function shown(url: URL): string {
  return `${url.protocol}//${url.host}/`
}

function bareHost(url: URL): string {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  return host.endsWith('.') ? host.slice(0, -1) : host
}

/** Static check (scheme http/https only, no credentials in URL, parseable host). Sync, no DNS. */
export function checkUrlSyntax(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UrlRejectedError('invalid_url', `${JSON.stringify(url)} is not a valid URL`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UrlRejectedError(
      'scheme_not_allowed',
      `${parsed.protocol.slice(0, -1)} URLs are not allowed; use http or https`,
    )
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // The credentials are not echoed: the message may end up in a log or an API response.
    throw new UrlRejectedError(
      'credentials_in_url',
      `${shown(parsed)} carries credentials in the URL; send them in a header instead`,
    )
  }
  if (bareHost(parsed) === '') throw new UrlRejectedError('invalid_url', `${JSON.stringify(url)} has no host`)
  return parsed
}

/** Full check: syntax, then every resolved address must be public unless allowPrivateNetwork. */
export async function checkOutboundUrl(url: string, opts: UrlGuardOptions): Promise<URL> {
  const parsed = checkUrlSyntax(url)
  // With private networks allowed nothing is left to refuse, so the lookup would be wasted.
  if (opts.allowPrivateNetwork) return parsed

  const host = bareHost(parsed).toLowerCase()
  // RFC 6761: localhost names are loopback whatever DNS says; refuse them without asking.
  if (host === 'localhost' || host.endsWith('.localhost')) {
    throw new UrlRejectedError('private_address', `${shown(parsed)} is a loopback host name; ${ALLOW_HINT}`)
  }

  let addresses: string[]
  if (ipaddr.isValid(host)) {
    addresses = [host]
  } else {
    // A lookup failure (ENOTFOUND, resolver down) propagates as is: it may be temporary, so it is
    // a network error for the caller to classify, not a refusal.
    // Loaded on first use: a gateway that allows private networks never resolves here.
    const dns = (await import('node:dns/promises')).default
    const results = await withDeadline(dns.lookup(host, { all: true, verbatim: true }), LOOKUP_TIMEOUT_MS, `lookup of ${host} timed out`)
    addresses = results.map((r) => r.address)
  }
  // Every address counts: fetch may connect to any of them.
  for (const address of addresses) {
    const why = refusedRange(ipaddr.parse(address))
    if (why) {
      throw new UrlRejectedError('private_address', `${shown(parsed)} resolves to ${why} (${address}); ${ALLOW_HINT}`)
    }
  }
  return parsed
}

export interface GuardedFetchOptions extends UrlGuardOptions {
  defaultTimeoutMs: number
  maxResponseBytes: number
}

// Statuses whose Response must be built with a null body.
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304])

/** Reads at most maxBytes of the body; the rest is cancelled, not an error. */
async function readCapped(res: Response, maxBytes: number): Promise<{ body: Uint8Array; truncated: boolean }> {
  if (!res.body) return { body: new Uint8Array(0), truncated: false }
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  let truncated = false
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      const room = maxBytes - total
      if (value.byteLength > room) {
        chunks.push(value.subarray(0, room))
        total += room
        truncated = true
        break
      }
      chunks.push(value)
      total += value.byteLength
    }
  } finally {
    // Stops the download of whatever the peer still sends past the cap.
    await reader.cancel().catch(() => {})
  }
  const body = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { body, truncated }
}

/**
 * fetch through the guard: no redirects followed (a 3xx comes back as is), a timeout that covers
 * the body too, and the body buffered up to maxResponseBytes.
 * @example
 * const fetch = createGuardedFetch({ allowPrivateNetwork: false, defaultTimeoutMs: 10_000, maxResponseBytes: 1 << 20 })
 * const res = await fetch('https://hooks.example.com/in', { method: 'POST', body, timeoutMs: 5_000 })
 */
export function createGuardedFetch(opts: GuardedFetchOptions): GuardedFetch {
  if (!(opts.defaultTimeoutMs > 0)) throw new Error('defaultTimeoutMs must be a positive number')
  if (!(opts.maxResponseBytes >= 0)) throw new Error('maxResponseBytes must be zero or more')

  return async function guardedFetch(url, init = {}) {
    const { timeoutMs = opts.defaultTimeoutMs, maxResponseBytes = opts.maxResponseBytes, ...rest } = init
    const target = await checkOutboundUrl(url, opts)
    const deadline = deadlineSignal(timeoutMs, rest.signal ?? undefined)
    try {
      return await fetchCapped(target, { ...rest, redirect: 'manual', signal: deadline.signal }, maxResponseBytes)
    } finally {
      deadline.release()
    }
  }
}

/** fetch, with the body buffered up to maxBytes (the signal covers the body too). */
async function fetchCapped(target: URL, init: RequestInit, maxResponseBytes: number): Promise<Response> {
  const res = await fetch(target, init)

  // A body that declares its length within the cap, as sent (not decoded), is read whole by
  // Bun, without a stream reader in JS: what nearly every provider and receiver answers, and
  // ~7 µs of the main thread a request cheaper (docs/performance.md). The timeout still covers it.
  // Not when the body is chunked as well: then the length header does not bound it (HTTP/1.1
  // reads the chunks), and a peer could send any amount.
  const declared = res.headers.get('content-length')
  if (
    declared !== null &&
    /^\d{1,15}$/.test(declared) &&
    Number(declared) <= maxResponseBytes &&
    !res.headers.has('transfer-encoding') &&
    !res.headers.has('content-encoding') &&
    !NULL_BODY_STATUSES.has(res.status) &&
    init.method?.toUpperCase() !== 'HEAD'
  ) {
    return new Response(await res.bytes(), { status: res.status, statusText: res.statusText, headers: res.headers })
  }

  const { body, truncated } = await readCapped(res, maxResponseBytes)
  const headers = new Headers(res.headers)
  if (truncated) headers.set(TRUNCATED_HEADER, 'true')
  // The new body is decoded and maybe truncated, so the original length and encoding no longer describe it.
  headers.delete('content-length')
  headers.delete('content-encoding')
  return new Response(NULL_BODY_STATUSES.has(res.status) ? null : body, {
    status: res.status,
    statusText: res.statusText,
    headers,
  })
}
