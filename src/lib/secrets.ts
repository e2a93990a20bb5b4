/**
 * Secrets at rest: AES-256-GCM under the instance master key. The stored form is
 * `v1.<iv>.<ciphertext+tag>` (base64url), so a later key rotation can add `v2`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

export class SecretBox {
  private readonly key: Buffer

  constructor(masterKeyBase64: string) {
    const key = Buffer.from(masterKeyBase64, 'base64')
    if (key.length !== 32) throw new Error('security.master_key must be 32 bytes, base64-encoded')
    this.key = key
  }

  seal(plaintext: string, associatedData = ''): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    cipher.setAAD(Buffer.from(associatedData))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  open(sealed: string, associatedData = ''): string {
    const [version, ivText, bodyText] = sealed.split('.')
    if (version !== 'v1' || !ivText || !bodyText) throw new Error('unknown secret format')
    const body = Buffer.from(bodyText, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(ivText, 'base64url'))
    decipher.setAAD(Buffer.from(associatedData))
    decipher.setAuthTag(body.subarray(body.length - 16))
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8')
  }

  sealJson(value: unknown, associatedData = ''): string {
    return this.seal(JSON.stringify(value), associatedData)
  }

  openJson<T>(sealed: string, associatedData = ''): T {
    return JSON.parse(this.open(sealed, associatedData)) as T
  }
}

/** 32 random bytes, base64: a new master key. */
export function generateMasterKey(): string {
  return randomBytes(32).toString('base64')
}
