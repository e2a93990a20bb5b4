import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from 'bun:test'
import dns from 'node:dns/promises'
import { checkOutboundUrl, checkUrlSyntax, createGuardedFetch, UrlRejectedError } from './url-guard'

const strict = { allowPrivateNetwork: false }
const relaxed = { allowPrivateNetwork: true }

async function rejection(promise: Promise<unknown>): Promise<UrlRejectedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UrlRejectedError)
  return err as UrlRejectedError
}

// Literal addresses need no DNS; a spy proves none of these tests asks a resolver.
let lookup: ReturnType<typeof spyOn>
beforeAll(() => {
  lookup = spyOn(dns, 'lookup')
})
afterEach(() => lookup.mockReset())
afterAll(() => lookup.mockRestore())

describe('checkUrlSyntax', () => {
  test.each(['ftp://example.com/file', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'data:text/plain,hi'])(
    'refuses the scheme of %s',
    (url) => {
      expect(() => checkUrlSyntax(url)).toThrow(/URLs are not allowed; use http or https/)
    },
  )

  test.each(['http://user:pass@example.com/hook', 'https://token@example.com/'])('refuses credentials in %s', (url) => {
    const err = (() => {
      try {
        checkUrlSyntax(url)
      } catch (e) {
        return e as UrlRejectedError
      }
    })()
    expect(err?.reason).toBe('credentials_in_url')
    // The secret itself never reaches the message.
    expect(err?.message).not.toContain('pass')
    expect(err?.message).not.toContain('token')
  })

  test.each(['not a url', '', 'http://'])('refuses the unparseable %p', (url) => {
    expect(() => checkUrlSyntax(url)).toThrow(UrlRejectedError)
  })

  test('returns the parsed URL for http and https', () => {
    expect(checkUrlSyntax('https://hooks.example.com/in?x=1').hostname).toBe('hooks.example.com')
    expect(checkUrlSyntax('http://10.0.0.1:8080/').port).toBe('8080')
  })
})

describe('checkOutboundUrl', () => {
  const refused: [string, string][] = [
    ['http://10.0.0.1/', 'a private address (10.0.0.1)'],
    ['http://172.16.5.4/', 'a private address'],
    ['http://172.31.255.255/', 'a private address'],
    ['http://192.168.1.1/', 'a private address'],
    ['http://100.64.0.1/', 'a carrier-grade NAT address'],
    ['http://127.0.0.1:8080/', 'a loopback address'],
    ['http://127.1.2.3/', 'a loopback address'],
    ['http://169.254.169.254/latest/meta-data/', 'a link-local address'],
    ['http://0.0.0.0/', 'an unspecified address'],
    ['http://224.0.0.1/', 'a multicast address'],
    ['http://255.255.255.255/', 'a broadcast address'],
    // The WHATWG parser turns these spellings into 127.0.0.1 before the check sees them.
    ['http://2130706433/', 'a loopback address (127.0.0.1)'],
    ['http://0x7f.1/', 'a loopback address (127.0.0.1)'],
    ['http://[::1]/', 'a loopback address (::1)'],
    ['http://[::]/', 'an unspecified address'],
    ['http://[fe80::1]/', 'a link-local address'],
    ['http://[fc00::1]/', 'a private address'],
    ['http://[fd12:3456::1]/', 'a private address'],
    ['http://[ff02::1]/', 'a multicast address'],
    ['http://[::ffff:127.0.0.1]/', 'a loopback address'],
    ['http://[::ffff:10.0.0.1]/', 'a private address'],
    ['http://[::ffff:169.254.169.254]/', 'a link-local address'],
    ['http://[64:ff9b::a00:1]/', 'a private address'],
    ['http://[2002:a00:1::1]/', 'a private address'],
    ['http://[::127.0.0.1]/', 'a loopback address'],
  ]
  test.each(refused)('refuses %s as %s', async (url, words) => {
    const err = await rejection(checkOutboundUrl(url, strict))
    expect(err.reason).toBe('private_address')
    expect(err.message).toContain(words)
    expect(err.message).toContain('set security.allow_private_network to allow it')
  })

  test('says which URL and address in the message, without the path', async () => {
    const err = await rejection(checkOutboundUrl('http://10.0.0.1/secret-token', strict))
    expect(err.message).toBe(
      'http://10.0.0.1/ resolves to a private address (10.0.0.1); set security.allow_private_network to allow it',
    )
  })

  test.each(['http://localhost:3000/', 'http://LOCALHOST./', 'http://api.localhost/'])('refuses %s by name', async (url) => {
    const err = await rejection(checkOutboundUrl(url, strict))
    expect(err.message).toContain('is a loopback host name')
    expect(lookup).not.toHaveBeenCalled()
  })

  test.each([
    'http://93.184.216.34/',
    'https://[2606:2800:220:1:248:1893:25c8:1946]/',
    'http://[::ffff:93.184.216.34]/',
    'http://172.32.0.1/',
    'http://100.128.0.1/',
  ])('accepts the public literal %s without DNS or any connection', async (url) => {
    expect((await checkOutboundUrl(url, strict)).href).toBe(new URL(url).href)
    expect(lookup).not.toHaveBeenCalled()
  })

  test.each(['http://127.0.0.1/', 'http://localhost/', 'http://10.0.0.1/', 'http://[::1]/'])(
    'accepts %s when private networks are allowed',
    async (url) => {
      expect((await checkOutboundUrl(url, relaxed)).href).toBe(url)
      expect(lookup).not.toHaveBeenCalled()
    },
  )

  test('still refuses bad schemes and credentials when private networks are allowed', async () => {
    await rejection(checkOutboundUrl('ftp://10.0.0.1/', relaxed))
    await rejection(checkOutboundUrl('http://a:b@10.0.0.1/', relaxed))
  })

  test('refuses a host name when any of its addresses is private', async () => {
    lookup.mockResolvedValue([
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ])
    const err = await rejection(checkOutboundUrl('https://hooks.example.com/in', strict))
    expect(err.message).toBe(
      'https://hooks.example.com/ resolves to a private address (10.1.2.3); set security.allow_private_network to allow it',
    )
    expect(lookup).toHaveBeenCalledWith('hooks.example.com', { all: true, verbatim: true })
  })

  test('accepts a host name whose addresses are all public', async () => {
    lookup.mockResolvedValue([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    ])
    expect((await checkOutboundUrl('https://hooks.example.com/in', strict)).pathname).toBe('/in')
  })

  test('lets a lookup failure through as a network error, not a refusal', async () => {
    lookup.mockRejectedValue(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }))
    const err = await checkOutboundUrl('https://nowhere.invalid/', strict).catch((e) => e)
    expect(err).not.toBeInstanceOf(UrlRejectedError)
    expect(err.code).toBe('ENOTFOUND')
  })
})

describe('createGuardedFetch', () => {
  let targetHits = 0
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname
      if (path === '/redirect') return new Response(null, { status: 302, headers: { location: '/target' } })
      if (path === '/target') {
        targetHits++
        return new Response('followed')
      }
      if (path === '/slow') {
        await Bun.sleep(2_000)
        return new Response('late')
      }
      if (path === '/big') return new Response('x'.repeat(100_000))
      if (path === '/empty') return new Response(null, { status: 204 })
      return new Response('hello', { headers: { 'x-test': 'yes' } })
    },
  })
  afterAll(() => server.stop(true))
  const base = `http://127.0.0.1:${server.port}`
  const guardedFetch = createGuardedFetch({ ...relaxed, defaultTimeoutMs: 1_000, maxResponseBytes: 1_000 })

  test('returns status, headers and body of a plain response', async () => {
    const res = await guardedFetch(`${base}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-test')).toBe('yes')
    expect(await res.text()).toBe('hello')
  })

  test('returns a redirect as is and never follows it', async () => {
    const res = await guardedFetch(`${base}/redirect`)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/target')
    expect(targetHits).toBe(0)
  })

  test('fails with a TimeoutError after timeoutMs', async () => {
    const started = Date.now()
    const err = await guardedFetch(`${base}/slow`, { timeoutMs: 150 }).catch((e) => e)
    expect(err.name).toBe('TimeoutError')
    expect(Date.now() - started).toBeLessThan(1_500)
  })

  test('truncates a body larger than maxResponseBytes', async () => {
    const res = await guardedFetch(`${base}/big`)
    expect(res.status).toBe(200)
    expect((await res.text()).length).toBe(1_000)
  })

  test('keeps a bodiless 204', async () => {
    const res = await guardedFetch(`${base}/empty`)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
  })

  test('refuses a loopback URL before connecting when private networks are not allowed', async () => {
    const strictFetch = createGuardedFetch({ ...strict, defaultTimeoutMs: 1_000, maxResponseBytes: 1_000 })
    const before = targetHits
    const err = await rejection(strictFetch(`${base}/target`))
    expect(err.reason).toBe('private_address')
    expect(targetHits).toBe(before)
  })
})

describe('response size limit', () => {
  test('a body cut at the limit is marked, a whole one is not; the limit can be raised per call', async () => {
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('x'.repeat(5000)) })
    try {
      const fetch = createGuardedFetch({ allowPrivateNetwork: true, defaultTimeoutMs: 2000, maxResponseBytes: 1000 })
      const cut = await fetch(`http://127.0.0.1:${server.port}/`)
      expect((await cut.text()).length).toBe(1000)
      expect(cut.headers.get('x-omnigate-truncated')).toBe('true')
      const whole = await fetch(`http://127.0.0.1:${server.port}/`, { maxResponseBytes: 5000 })
      expect((await whole.text()).length).toBe(5000)
      expect(whole.headers.get('x-omnigate-truncated')).toBeNull()
    } finally {
      server.stop(true)
    }
  })
})

describe('bodies of a declared length', () => {
  // A raw HTTP/1.1 peer: it can declare a length and then stall, or compress, which Bun.serve won't do on request.
  const replies = new Map<string, (socket: { write(data: string | Uint8Array): number }) => void>()
  const peer = Bun.listen<undefined>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data(socket, data) {
        const path = data.toString().split(' ')[1] ?? '/'
        replies.get(path)?.(socket)
      },
    },
  })
  afterAll(() => peer.stop(true))
  const base = `http://127.0.0.1:${peer.port}`
  const head = (extra: string) => `HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/plain\r\n${extra}\r\n`
  replies.set('/stall', (s) => s.write(`${head('content-length: 100\r\n')}0123456789`))
  replies.set('/whole', (s) => s.write(`${head('content-length: 10\r\nx-peer: yes\r\n')}0123456789`))
  const zipped = Bun.gzipSync('y'.repeat(5_000))
  replies.set('/gzip', (s) => {
    s.write(head(`content-length: ${zipped.byteLength}\r\ncontent-encoding: gzip\r\n`))
    s.write(zipped)
  })
  // Both headers: HTTP/1.1 reads the chunks, so the declared length bounds nothing.
  replies.set('/both', (s) => {
    const chunk = 'z'.repeat(5_000)
    s.write(`${head('content-length: 10\r\ntransfer-encoding: chunked\r\n')}${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`)
  })
  const fetch = createGuardedFetch({ ...relaxed, defaultTimeoutMs: 2_000, maxResponseBytes: 1_000 })

  test('a chunked body is capped, whatever length it also declares', async () => {
    const res = await fetch(`${base}/both`)
    expect((await res.text()).length).toBe(1_000)
    expect(res.headers.get('x-omnigate-truncated')).toBe('true')
  })

  test('a body within the cap comes back whole, headers and all, unmarked', async () => {
    const res = await fetch(`${base}/whole`)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-peer')).toBe('yes')
    expect(res.headers.get('x-omnigate-truncated')).toBeNull()
    expect(await res.text()).toBe('0123456789')
  })

  test('the timeout covers a body that stalls short of its declared length', async () => {
    const started = Date.now()
    const err = await fetch(`${base}/stall`, { timeoutMs: 200 }).then(
      (res) => res.text(),
      (e: unknown) => e,
    )
    expect((err as Error).name).toBe('TimeoutError')
    expect(Date.now() - started).toBeLessThan(1_500)
  })

  test('a compressed body is capped as decoded, though its declared length is within the cap', async () => {
    expect(zipped.byteLength).toBeLessThan(1_000)
    const res = await fetch(`${base}/gzip`)
    expect((await res.text()).length).toBe(1_000)
    expect(res.headers.get('x-omnigate-truncated')).toBe('true')
  })
})
