import { expect, test } from 'bun:test'
import { generateMasterKey, SecretBox } from './secrets'

test('sealed secrets round-trip and never contain the plaintext', () => {
  const box = new SecretBox(generateMasterKey())
  const sealed = box.sealJson({ token: 'super-secret-token' }, 'ch_1')
  expect(sealed).not.toContain('super-secret')
  expect(box.openJson(sealed, 'ch_1')).toEqual({ token: 'super-secret-token' })
})

test('a secret opened with another key, or bound to another row, is refused', () => {
  const box = new SecretBox(generateMasterKey())
  const sealed = box.seal('x', 'ch_1')
  expect(() => new SecretBox(generateMasterKey()).open(sealed, 'ch_1')).toThrow()
  expect(() => box.open(sealed, 'ch_2')).toThrow()
})

test('a master key of the wrong length is refused', () => {
  expect(() => new SecretBox(Buffer.alloc(16).toString('base64'))).toThrow('32 bytes')
})
