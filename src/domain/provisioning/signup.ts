/**
 * Self-service signup (`[signup] enabled`): an e-mail, a password and the namespace wanted. The
 * address is proved by a one-time link (24 h); following it verifies the account and enqueues
 * the tenant's provisioning in the same transaction. Answers never tell whether an address
 * already has an account: everything that depends on it happens after the answer, and the
 * mailbox owner is the only one told.
 */
import { and, desc, eq, gt, isNull } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { emailVerifications, invitations, users } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, type Mailer, now } from '../deps'
import { errors, invalidField } from '../errors'
import {
  checkPassword,
  findUserByEmail,
  hashOneTimeToken,
  hashPassword,
  insertUser,
  newOneTimeToken,
  normalizeEmail,
  type User,
} from '../identity/users'
import { checkSignupDomain } from './email-domains'
import { assertSlugFree, checkSlug, insertProvisioningJob, type ProvisioningJob } from './jobs'
import { findPlan } from './plans'

// A day: long enough to find the mail the next morning, short enough that the slug is not held long.
export const VERIFICATION_TTL_MS = 24 * 60 * 60 * 1000

/** What a verification holds: the namespace and plan asked for, and the password chosen (hashed). */
interface SignupRequest {
  namespace: string
  plan: string
  password_hash: string
}

export interface SignupInput {
  email: string
  password: string
  namespace: string
}

/** Work left running after the answer; rejects when it failed (the caller logs it, and must catch). */
export interface Background {
  settled: Promise<void>
}

function requireSignup(deps: Deps): Mailer {
  if (!deps.config.signup.enabled) throw errors.signupDisabled('self-service signup is off on this instance ([signup] enabled)')
  if (!deps.mailer) throw errors.mailNotConfigured('signup mails a verification link: set [mail] smtp_url')
  return deps.mailer
}

/**
 * Checks a signup and mails what fits the address, in the background: a verification link to a
 * new (or still unverified) address, a notice to an address that has an account. The account
 * itself is created unverified and without a password; the password waits, hashed, with the
 * link, so nobody can log in to an address they have not proved.
 */
export async function signup(deps: Deps, input: SignupInput, throttle: (email: string) => void = () => {}): Promise<Background> {
  const mailer = requireSignup(deps)
  const email = normalizeEmail(input.email)
  checkPassword(input.password)
  checkSignupDomain(deps.config.signup, email)
  const slug = checkSlug(input.namespace, 'namespace', { reserved: true })
  const plan = findPlan(deps.config, deps.config.signup.default_plan, 'signup.default_plan')
  await assertSlugFree(deps.store.read, slug, 'namespace')
  // Only a request that would send mail counts against the address's mail limit.
  throttle(email)
  // Hashed for every request, before the answer: a known address must not answer faster.
  const passwordHash = await hashPassword(input.password)
  const request: SignupRequest = { namespace: slug, plan: plan.name, password_hash: passwordHash }
  return { settled: startSignup(deps, mailer, email, request) }
}

/**
 * An account somebody can sign in to: verified, or given a password another way (`omnigate
 * member add` without mail makes unverified users with a password). Only an address with
 * neither, an abandoned signup, may get a signup link.
 */
const hasAccount = (user: Pick<User, 'verified' | 'passwordHash'>) => user.verified || user.passwordHash !== null

async function startSignup(deps: Deps, mailer: Mailer, email: string, request: SignupRequest): Promise<void> {
  const existing = await findUserByEmail(deps, email)
  if (existing?.disabled) return
  if (existing && hasAccount(existing)) return mailer.send(accountExistsMail(deps, email))
  if (deps.config.signup.invite_only && !(await hasPendingInvitation(deps, email))) return mailer.send(inviteOnlyMail(email))
  const at = now(deps)
  const { token, hash } = newOneTimeToken()
  await deps.store.tx(async (tx) => {
    const user = (await unverifiedUser(tx, email)) ?? (await insertUser(tx, { email, passwordHash: null, verified: false }, at))
    await tx.insert(emailVerifications).values({
      id: newId('ver'),
      userId: user.id,
      tokenHash: hash,
      request: { ...request },
      expiresAt: at + VERIFICATION_TTL_MS,
      usedAt: null,
      createdAt: at,
    })
  })
  await mailer.send(verificationMail(deps, email, request.namespace, token))
}

/** The user of this address when it is an unfinished signup: no account yet (under the write lock). */
async function unverifiedUser(tx: Db, email: string): Promise<User | null> {
  const [user] = await tx.select().from(users).where(eq(users.email, email))
  return user && !hasAccount(user) && !user.disabled ? user : null
}

async function hasPendingInvitation(deps: Deps, email: string): Promise<boolean> {
  const [row] = await deps.store.read
    .select({ id: invitations.id })
    .from(invitations)
    .where(and(eq(invitations.email, email), isNull(invitations.acceptedAt), gt(invitations.expiresAt, now(deps))))
    .limit(1)
  return row !== undefined
}

/**
 * Mails a fresh link for the latest signup of an unverified address (the previous link stops
 * working); does nothing otherwise. Always the same answer, in the background.
 */
export async function resendVerification(deps: Deps, rawEmail: string): Promise<Background> {
  const mailer = requireSignup(deps)
  const email = normalizeEmail(rawEmail)
  return { settled: resend(deps, mailer, email) }
}

async function resend(deps: Deps, mailer: Mailer, email: string): Promise<void> {
  const at = now(deps)
  const { token, hash } = newOneTimeToken()
  const renewed = await deps.store.tx(async (tx) => {
    const user = await unverifiedUser(tx, email)
    if (!user) return null
    const [latest] = await tx
      .select()
      .from(emailVerifications)
      .where(and(eq(emailVerifications.userId, user.id), isNull(emailVerifications.usedAt)))
      .orderBy(desc(emailVerifications.id))
      .limit(1)
    if (!latest) return null
    await tx.update(emailVerifications).set({ tokenHash: hash, expiresAt: at + VERIFICATION_TTL_MS }).where(eq(emailVerifications.id, latest.id))
    return latest.request as unknown as SignupRequest
  })
  if (renewed) await mailer.send(verificationMail(deps, email, renewed.namespace, token))
}

/** What a pending link would do (the page shows it before the button), or null for a dead link. Reads only. */
export async function describeVerification(deps: Deps, token: string): Promise<{ email: string; namespace: string } | null> {
  const [row] = await deps.store.read
    .select({ email: users.email, request: emailVerifications.request })
    .from(emailVerifications)
    .innerJoin(users, eq(users.id, emailVerifications.userId))
    .where(and(eq(emailVerifications.tokenHash, hashOneTimeToken(token)), isNull(emailVerifications.usedAt), gt(emailVerifications.expiresAt, now(deps))))
  const namespace = row?.request.namespace
  return row && typeof namespace === 'string' ? { email: row.email, namespace } : null
}

const invalidToken = () =>
  errors.invalidToken('the verification link is invalid, expired or already used', [{ field: 'token', message: 'is invalid, expired or already used' }])

/**
 * Follows a verification link, once: the account becomes verified with the password chosen at
 * signup, every other pending link of it dies, and the provisioning job is written — all in one
 * transaction. A slug taken meanwhile is a 409 and leaves the link usable (nothing changed).
 */
export async function verifyEmail(deps: Deps, token: string): Promise<ProvisioningJob> {
  requireSignup(deps)
  const at = now(deps)
  const pending = and(eq(emailVerifications.tokenHash, hashOneTimeToken(token)), isNull(emailVerifications.usedAt), gt(emailVerifications.expiresAt, at))
  return deps.store.tx(async (tx) => {
    const [row] = await tx
      .select({ verification: emailVerifications, user: users })
      .from(emailVerifications)
      .innerJoin(users, eq(users.id, emailVerifications.userId))
      .where(pending)
    // A link never changes an account that exists meanwhile (made by the CLI, or by accepting
    // an invitation): whoever asked for the link chose its password.
    if (!row || row.user.disabled || hasAccount(row.user)) throw invalidToken()
    const request = row.verification.request as Partial<SignupRequest>
    if (typeof request.namespace !== 'string' || typeof request.plan !== 'string') throw invalidField('token', 'belongs to a signup this version cannot read')
    findPlan(deps.config, request.plan, 'plan')
    await tx
      .update(emailVerifications)
      .set({ usedAt: at })
      .where(and(eq(emailVerifications.userId, row.user.id), isNull(emailVerifications.usedAt)))
    const passwordHash = typeof request.password_hash === 'string' ? request.password_hash : null
    await tx.update(users).set({ verified: true, passwordHash, updatedAt: at }).where(eq(users.id, row.user.id))
    return insertProvisioningJob(deps, tx, { slug: request.namespace, userId: row.user.id, plan: request.plan }, at)
  })
}

function verificationMail(deps: Deps, email: string, slug: string, token: string) {
  const link = `${deps.publicUrl}/portal/verify?token=${token}`
  const text = [
    `Someone (hopefully you) signed up for omnigate with this address and asked for the namespace "${slug}".`,
    '',
    `Confirm within 24 hours: ${link}`,
    '',
    'If this was not you, ignore this mail: nothing is created until the link is followed.',
  ].join('\n')
  return { to: email, subject: 'Confirm your omnigate signup', text }
}

function accountExistsMail(deps: Deps, email: string) {
  const text = [
    'Someone (hopefully you) tried to sign up for omnigate with this address, but it already has an account.',
    '',
    `Log in instead, or reset your password: ${deps.publicUrl}/portal/reset`,
    '',
    'If this was not you, ignore this mail: nothing was changed.',
  ].join('\n')
  return { to: email, subject: 'You already have an omnigate account', text }
}

function inviteOnlyMail(email: string) {
  const text = [
    'Someone (hopefully you) tried to sign up for omnigate with this address.',
    '',
    'This instance accepts new accounts by invitation only: ask its operator, or a member of the team you want to join, to invite you.',
    '',
    'If this was not you, ignore this mail.',
  ].join('\n')
  return { to: email, subject: 'omnigate signup is by invitation', text }
}
