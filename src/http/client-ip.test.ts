import { describe, expect, test } from 'bun:test'
import { Hono } from 'hono'
import { clientIp, parseTrustedProxies, UNKNOWN_CLIENT } from './client-ip'

/** The address the app computes for a request from `peer` carrying `xff`. */
async function seen(trusted: string[], peer: string | null, xff?: string): Promise<string> {
  const proxies = parseTrustedProxies(trusted)
  const app = new Hono().get('/', (c) => c.text(clientIp(c, proxies)))
  // Bun.serve passes the server as the second fetch argument; requestIP() gives the peer.
  const env = peer === null ? undefined : { requestIP: () => ({ address: peer, family: peer.includes(':') ? 'IPv6' : 'IPv4', port: 50000 }) }
  const res = await app.request('/', { headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }, env)
  return res.text()
}

describe('clientIp', () => {
  test('without a socket (in-process requests) the client is unknown, whatever the headers say', async () => {
    expect(await seen(['0.0.0.0/0'], null, '1.2.3.4')).toBe(UNKNOWN_CLIENT)
  })

  test('an untrusted peer is the client: its X-Forwarded-For is ignored', async () => {
    expect(await seen([], '198.51.100.7', '1.2.3.4')).toBe('198.51.100.7')
    expect(await seen(['10.0.0.0/8'], '198.51.100.7', '1.2.3.4')).toBe('198.51.100.7')
  })

  test('a trusted proxy: the nearest untrusted hop, right to left', async () => {
    expect(await seen(['10.0.0.0/8'], '10.0.0.2', '203.0.113.9')).toBe('203.0.113.9')
    // The client made up the first entry; the proxy chain appended the real address.
    expect(await seen(['10.0.0.0/8'], '10.0.0.2', '6.6.6.6, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9')
    expect(await seen(['10.0.0.2', '192.168.0.0/16'], '10.0.0.2', '203.0.113.9,192.168.4.4')).toBe('203.0.113.9')
  })

  test('a trusted proxy without the header, or with only trusted hops', async () => {
    expect(await seen(['10.0.0.0/8'], '10.0.0.2')).toBe('10.0.0.2')
    expect(await seen(['10.0.0.0/8'], '10.0.0.2', '10.9.9.9, 10.8.8.8')).toBe('10.9.9.9')
  })

  test('a malformed hop stops the walk at the last address vouched for', async () => {
    expect(await seen(['10.0.0.0/8'], '10.0.0.2', '203.0.113.9, not-an-ip, 10.3.3.3')).toBe('10.3.3.3')
    expect(await seen(['10.0.0.0/8'], '10.0.0.2', '1.2.3')).toBe('10.0.0.2')
  })

  test('IPv6, and IPv4-mapped peers match IPv4 ranges', async () => {
    expect(await seen(['::1'], '::1', '2001:db8::5')).toBe('2001:db8::5')
    expect(await seen(['fd00::/8'], 'fd12::1', '[2001:db8::7]')).toBe('2001:db8::7')
    expect(await seen(['127.0.0.1'], '::ffff:127.0.0.1', '203.0.113.9')).toBe('203.0.113.9')
    expect(await seen(['::ffff:10.0.0.0/104'], '10.1.1.1', '203.0.113.9')).toBe('203.0.113.9')
    expect(await seen([], '::ffff:198.51.100.1')).toBe('198.51.100.1')
  })
})
