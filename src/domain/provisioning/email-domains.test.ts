import { describe, expect, test } from 'bun:test'
import { AppError } from '../errors'
import { checkSignupDomain } from './email-domains'

const refusal = (allowed: string[], email: string) => {
  try {
    checkSignupDomain({ allowed_domains: allowed }, email)
    return null
  } catch (error) {
    expect(error).toBeInstanceOf(AppError)
    const e = error as AppError
    expect([e.code, e.status, e.errors.map((f) => f.field)]).toEqual(['email_domain_not_allowed', 422, ['email']])
    return e.errors[0]!.message
  }
}

describe('checkSignupDomain', () => {
  test('disposable domains and their subdomains are refused, whatever allowed_domains says', () => {
    expect(refusal([], 'a@mailinator.com')).toContain('disposable')
    expect(refusal([], 'a@MX.Guerrillamail.com')).toContain('disposable')
    expect(refusal(['mailinator.com'], 'a@mailinator.com')).toContain('disposable')
  })

  test('a look-alike is not a subdomain', () => {
    expect(refusal([], 'a@notmailinator.com')).toBeNull()
    expect(refusal(['corp.test'], 'a@evilcorp.test')).toContain('allowed: corp.test')
  })

  test('allowed_domains admits the listed domains and their subdomains only', () => {
    expect(refusal(['corp.test', '@other.test'], 'a@corp.test')).toBeNull()
    expect(refusal(['corp.test'], 'a@eu.corp.test')).toBeNull()
    expect(refusal(['Other.Test'], 'a@other.test')).toBeNull()
    expect(refusal(['corp.test'], 'a@gmail.test')).toContain('cannot sign up here')
  })
})
