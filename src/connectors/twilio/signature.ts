/**
 * Twilio's request signature (`X-Twilio-Signature`): base64 HMAC-SHA1, keyed with the account's
 * auth token, over the full URL Twilio called followed by every POST parameter sorted by name,
 * each as name + value with no separators. Computed the way the official `twilio` package's
 * `getExpectedTwilioSignature` / `validateRequest` do, which the tests use as the checker.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** A form body's parameters, in the order they came (a name may repeat). */
export type FormParams = [name: string, value: string][]

/** The signature Twilio sends for a POST to `url` with these parameters. */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  const byName = new Map<string, Set<string>>()
  for (const [name, value] of params) {
    const values = byName.get(name) ?? new Set<string>()
    values.add(value)
    byName.set(name, values)
  }
  // Plain code-unit order, like the reference implementation's Array#sort: a repeated name
  // contributes each distinct value once, values sorted too.
  let data = url
  for (const name of [...byName.keys()].sort()) {
    for (const value of [...byName.get(name)!].sort()) data += name + value
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64')
}

const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is

/**
 * The URL as given, without its port and with the scheme's default port: Twilio signs the URL
 * exactly as configured, and some setups show it with `:443` where others do not.
 */
export function urlVariants(url: string): string[] {
  const match = URL_PARTS.exec(url)
  if (!match) return [url]
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string]
  const host = authority.slice(authority.lastIndexOf('@') + 1)
  const userInfo = authority.slice(0, authority.length - host.length)
  const portAt = host.indexOf(':', host.lastIndexOf(']') + 1)
  const bare = portAt === -1 ? host : host.slice(0, portAt)
  const withoutPort = scheme + userInfo + bare + rest
  const defaultPort = scheme.toLowerCase() === 'https://' ? ':443' : ':80'
  const withPort = portAt === -1 ? scheme + userInfo + bare + defaultPort + rest : url
  return [...new Set([url, withoutPort, withPort])]
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  // The expected length is fixed by SHA-1 and not secret, so the early return leaks nothing.
  return left.length === right.length && timingSafeEqual(left, right)
}

/** Whether `signature` is Twilio's for this URL (in any of its port spellings) and these parameters. */
export function isValidTwilioSignature(authToken: string, signature: string, url: string, params: FormParams): boolean {
  let valid = false
  // Every variant is checked, so the time taken does not depend on which one matched.
  for (const candidate of urlVariants(url)) {
    if (sameText(signature, twilioSignature(authToken, candidate, params))) valid = true
  }
  return valid
}
