/**
 * Which e-mail addresses may sign up: `[signup] allowed_domains` when set, and never a
 * disposable-mail domain (a small built-in list of the well-known ones; an operator who needs
 * more sets `allowed_domains`).
 */
import type { Config } from '../../config'
import { errors } from '../errors'

/** Throwaway-inbox services: an account behind one of these cannot be reached next week. */
export const DISPOSABLE_DOMAINS: ReadonlySet<string> = new Set([
  '10minutemail.com',
  '20minutemail.com',
  'burnermail.io',
  'discard.email',
  'dispostable.com',
  'emailondeck.com',
  'fakeinbox.com',
  'getairmail.com',
  'getnada.com',
  'guerrillamail.biz',
  'guerrillamail.com',
  'guerrillamail.de',
  'guerrillamail.info',
  'guerrillamail.net',
  'guerrillamail.org',
  'guerrillamailblock.com',
  'maildrop.cc',
  'mailinator.com',
  'mailnesia.com',
  'mintemail.com',
  'mohmal.com',
  'mytemp.email',
  'sharklasers.com',
  'spamgourmet.com',
  'temp-mail.org',
  'tempail.com',
  'tempmail.com',
  'tempmailo.com',
  'throwawaymail.com',
  'trashmail.com',
  'trashmail.de',
  'yopmail.com',
  'yopmail.fr',
])

/** `name@sub.example.com` → `sub.example.com` is inside `example.com`. */
const within = (domain: string, parent: string) => domain === parent || domain.endsWith(`.${parent}`)

/**
 * Refuses an address whose domain is disposable, or outside `allowed_domains` when that is set
 * (a listed domain admits its subdomains): 422 `email_domain_not_allowed` naming `email`.
 */
export function checkSignupDomain(signup: Pick<Config['signup'], 'allowed_domains'>, email: string): void {
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase()
  const refuse = (message: string) => errors.emailDomainNotAllowed(`email: ${message}`, [{ field: 'email', message }])
  for (const disposable of DISPOSABLE_DOMAINS) {
    if (within(domain, disposable)) throw refuse(`"${domain}" is a disposable-mail domain; use a lasting address`)
  }
  const allowed = signup.allowed_domains.map((d) => d.trim().toLowerCase().replace(/^@/, ''))
  if (allowed.length > 0 && !allowed.some((d) => within(domain, d))) {
    throw refuse(`addresses at "${domain}" cannot sign up here (allowed: ${allowed.join(', ')})`)
  }
}
