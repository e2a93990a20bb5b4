import { expect, test } from 'bun:test'
import { isIP as nodeIsIP } from 'node:net'
import { isIP } from './ip'

test('isIP answers as node:net does', () => {
  for (const s of ['127.0.0.1', '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', '::', '::1', 'fe80::1', '2001:db8::8a2e:370:7334', '::ffff:1.2.3.4', '1::2::3', 'example.com', '', 'localhost', '[::1]', '1.2.3.4 ', 'gggg::1']) {
    expect([s, isIP(s) as number]).toEqual([s, nodeIsIP(s)])
  }
})
