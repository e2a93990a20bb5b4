import { describe, expect, test } from 'bun:test'
import twilio from 'twilio'
import { isValidTwilioSignature, twilioSignature, urlVariants } from './signature'

const TOKEN = '12345'
// Twilio's published example (TwilioDevEd/api-snippets security/signature_validation): this
// token, URL and parameters carry the signature GvWf1cFY/Q7PnoempGyD5oXAezc=.
const URL = 'https://mycompany.com/myapp.php?foo=1&bar=2'
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' }
const PUBLISHED = 'GvWf1cFY/Q7PnoempGyD5oXAezc='
const entries = Object.entries(PARAMS)

describe('twilioSignature', () => {
  test('matches the published example and the official package, whatever order the parameters came in', () => {
    const expected = twilio.getExpectedTwilioSignature(TOKEN, URL, PARAMS)
    expect(expected).toBe(PUBLISHED)
    expect(twilioSignature(TOKEN, URL, entries)).toBe(expected)
    expect(twilioSignature(TOKEN, URL, [...entries].reverse())).toBe(expected)
  })

  test('non-ASCII bodies and empty values sign like the official package', () => {
    const params = { Body: 'Grüße 👋 & <tags>', NumMedia: '0', Empty: '' }
    expect(twilioSignature(TOKEN, URL, Object.entries(params))).toBe(twilio.getExpectedTwilioSignature(TOKEN, URL, params))
  })

  test('a repeated name contributes each distinct value once, sorted (as the official package does)', () => {
    const expected = twilio.getExpectedTwilioSignature(TOKEN, URL, { MediaUrl: ['https://b', 'https://a', 'https://b'] } as never)
    expect(twilioSignature(TOKEN, URL, [['MediaUrl', 'https://b'], ['MediaUrl', 'https://a'], ['MediaUrl', 'https://b']])).toBe(expected)
  })
})

describe('isValidTwilioSignature', () => {
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL, PARAMS)

  test('accepts the signature and refuses any change to token, URL, parameters or signature', () => {
    expect(isValidTwilioSignature(TOKEN, signature, URL, entries)).toBe(true)
    expect(isValidTwilioSignature('54321', signature, URL, entries)).toBe(false)
    expect(isValidTwilioSignature(TOKEN, signature, URL.replace('foo=1', 'foo=2'), entries)).toBe(false)
    expect(isValidTwilioSignature(TOKEN, signature, URL, [...entries, ['Body', 'extra']])).toBe(false)
    expect(isValidTwilioSignature(TOKEN, `${signature.slice(0, -2)}A=`, URL, entries)).toBe(false)
    expect(isValidTwilioSignature(TOKEN, '', URL, entries)).toBe(false)
  })

  test('accepts a URL signed with the default port spelled out, or without the port', () => {
    const withPort = twilio.getExpectedTwilioSignature(TOKEN, 'https://mycompany.com:443/myapp.php?foo=1&bar=2', PARAMS)
    expect(isValidTwilioSignature(TOKEN, withPort, URL, entries)).toBe(true)
    expect(isValidTwilioSignature(TOKEN, signature, 'https://mycompany.com:443/myapp.php?foo=1&bar=2', entries)).toBe(true)
  })

  test('agrees with twilio.validateRequest', () => {
    for (const url of [URL, 'http://127.0.0.1:8080/inbound/ch_1', 'https://gw.example.com/inbound/ch_1']) {
      const sig = twilio.getExpectedTwilioSignature(TOKEN, url, PARAMS)
      expect(isValidTwilioSignature(TOKEN, sig, url, entries)).toBe(twilio.validateRequest(TOKEN, sig, url, PARAMS))
    }
  })
})

describe('urlVariants', () => {
  test('as given, without the port, with the default port', () => {
    expect(urlVariants('https://gw.example.com/inbound/x')).toEqual(['https://gw.example.com/inbound/x', 'https://gw.example.com:443/inbound/x'])
    expect(urlVariants('http://127.0.0.1:8080/inbound/x')).toEqual(['http://127.0.0.1:8080/inbound/x', 'http://127.0.0.1/inbound/x'])
    expect(urlVariants('https://[::1]:9443/a?b=1')).toEqual(['https://[::1]:9443/a?b=1', 'https://[::1]/a?b=1'])
  })
})
