/**
 * Users: global identities (lower-cased email, display name, argon2id password), instance admins,
 * password changes and resets by e-mail.
 */
import { createHash, randomBytes } from 'node:crypto'
import { and, eq, gt, isNull } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { passwordResets, users } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { revokeUserSessions } from './sessions'

export type User = typeof users.$inferSelect

export const PASSWORD_MIN_LENGTH = 12
export const PASSWORD_MAX_LENGTH = 1024
// An hour: long enough to find the mail, short enough that an old mailbox leak is harmless.
const RESET_TTL_MS = 60 * 60 * 1000

/** argon2id at Bun's default cost (64 MiB, 2 passes: RFC 9106's memory-constrained choice). */
const hashCost = { memoryCost: 65_536, timeCost: 2 }

/** Lowers the argon2 cost: tests only, so thousands of hashes do not take minutes. */
export function setPasswordHashCost(cost: { memoryCost: number; timeCost: number }): void {
  Object.assign(hashCost, cost)
  dummyHash = null
}

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id', ...hashCost })
}

let dummyHash: Promise<string> | null = null
/**
 * Checks a password against a hash, or against a throwaway hash when there is none (unknown
 * email, invited user), so both cases take as long as a wrong password.
 */
export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
  if (!hash) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'))
    await Bun.password.verify(password, await dummyHash)
    return false
  }
  return Bun.password.verify(password, hash)
}

const EMAIL = /^[^\s@<>()[\]",;:\\]+@[^\s@<>()[\]",;:\\]+\.[^\s@<>()[\]",;:\\]+$/

/** Trimmed and lower-cased, or a 422 naming `field`. */
export function normalizeEmail(email: string, field = 'email'): string {
  const normalized = email.trim().toLowerCase()
  if (normalized.length > 254 || !EMAIL.test(normalized)) throw invalidField(field, 'must be an e-mail address (name@example.com)')
  return normalized
}

export function checkPassword(password: string, field = 'password'): void {
  if (password.length < PASSWORD_MIN_LENGTH) throw invalidField(field, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  if (password.length > PASSWORD_MAX_LENGTH) throw invalidField(field, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
}

export function userView(user: User) {
  return {
    id: user.id,
    email: user.email,
    display_name: user.displayName,
    verified: user.verified,
    disabled: user.disabled,
    instance_admin: user.instanceAdmin,
    created_at: new Date(user.createdAt).toISOString(),
  }
}

export async function findUserByEmail(deps: Pick<Deps, 'store'>, email: string): Promise<User | null> {
  const [row] = await deps.store.read.select().from(users).where(eq(users.email, email.trim().toLowerCase()))
  return row ?? null
}

export async function getUser(deps: Pick<Deps, 'store'>, id: string): Promise<User> {
  const [row] = await deps.store.read.select().from(users).where(eq(users.id, id))
  if (!row) throw errors.userNotFound(`user "${id}" does not exist`)
  return row
}

export interface NewUser {
  email: string
  displayName?: string
  /** Already hashed (hash outside the transaction: argon2 is slow). */
  passwordHash: string | null
  verified?: boolean
  instanceAdmin?: boolean
}

/** Inserts a user inside an open transaction; 409 when the email is taken. */
export async function insertUser(tx: Db, input: NewUser, at: number): Promise<User> {
  const email = normalizeEmail(input.email)
  const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email))
  if (taken) throw errors.conflict(`a user with the email "${email}" already exists`)
  const row: User = {
    id: newId('usr'),
    email,
    displayName: input.displayName?.trim() ?? '',
    passwordHash: input.passwordHash,
    verified: input.verified ?? false,
    disabled: false,
    instanceAdmin: input.instanceAdmin ?? false,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(users).values(row)
  return row
}

/**
 * Makes `email` an instance admin with this password: a new user, or an existing one promoted
 * (re-enabled, verified, password replaced). `omnigate admin create`.
 */
export async function createInstanceAdmin(deps: Deps, input: { email: string; name?: string; password: string }) {
  const email = normalizeEmail(input.email)
  checkPassword(input.password)
  const passwordHash = await hashPassword(input.password)
  const at = now(deps)
  return deps.store.tx(async (tx) => {
    const [existing] = await tx.select().from(users).where(eq(users.email, email))
    if (!existing) {
      return { user: await insertUser(tx, { email, displayName: input.name, passwordHash, verified: true, instanceAdmin: true }, at), created: true }
    }
    const patch = { passwordHash, instanceAdmin: true, verified: true, disabled: false, updatedAt: at, ...(input.name ? { displayName: input.name } : {}) }
    await tx.update(users).set(patch).where(eq(users.id, existing.id))
    // A new password logs out whoever held the old one.
    await revokeUserSessions(tx, existing.id, at)
    return { user: { ...existing, ...patch }, created: false }
  })
}

/**
 * `[admin] email/password` on start: creates that instance admin when there is no instance
 * admin at all; otherwise does nothing (the config never overrides a password set since).
 */
export async function ensureInstanceAdmin(deps: Deps, admin: { email?: string; password?: string }): Promise<User | null> {
  if (admin.email === undefined && admin.password === undefined) return null
  if (admin.email === undefined) throw invalidField('admin.email', 'must be set together with admin.password')
  if (admin.password === undefined) throw invalidField('admin.password', 'must be set together with admin.email (OMNIGATE_ADMIN_PASSWORD)')
  const [any] = await deps.store.read.select({ id: users.id }).from(users).where(eq(users.instanceAdmin, true)).limit(1)
  if (any) return null
  return (await createInstanceAdmin(deps, { email: admin.email, password: admin.password })).user
}

/**
 * Changes a password given the current one; every other session of the user is logged out and
 * every outstanding reset link dies (one mailed before would set a password again).
 */
export async function changePassword(deps: Deps, userId: string, input: { current: string; next: string; keepSessionId?: string }) {
  const user = await getUser(deps, userId)
  if (!(await verifyPassword(input.current, user.passwordHash))) throw invalidField('current_password', 'is not the current password')
  checkPassword(input.next, 'new_password')
  const passwordHash = await hashPassword(input.next)
  await deps.store.tx(async (tx) => {
    const at = now(deps)
    await tx.update(users).set({ passwordHash, updatedAt: at }).where(eq(users.id, userId))
    await revokeUserSessions(tx, userId, at, input.keepSessionId)
    await tx.update(passwordResets).set({ usedAt: at }).where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt)))
  })
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

/** A one-time token (256 random bits) and the hash stored for it. */
export function newOneTimeToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashToken(token) }
}

export { hashToken as hashOneTimeToken }

/**
 * Mails a reset link when the email belongs to an enabled user; silent otherwise, and the mail
 * goes out in the background, so neither the answer nor its timing tells whether it exists.
 */
export async function requestPasswordReset(deps: Deps, email: string): Promise<void> {
  const mailer = deps.mailer
  if (!mailer) throw errors.mailNotConfigured('password reset needs [mail] smtp_url')
  // Everything after this point runs in the background: an existing address must not answer
  // slower (a write, a mail) than an unknown one.
  void sendPasswordReset(deps, mailer, normalizeEmail(email)).catch(() => {})
}

async function sendPasswordReset(deps: Deps, mailer: NonNullable<Deps['mailer']>, normalized: string): Promise<void> {
  const user = await findUserByEmail(deps, normalized)
  if (!user || user.disabled) return
  const { token, hash } = newOneTimeToken()
  const at = now(deps)
  await deps.store.tx((tx) =>
    tx.insert(passwordResets).values({ id: newId('pwr'), userId: user.id, tokenHash: hash, expiresAt: at + RESET_TTL_MS, usedAt: null, createdAt: at }),
  )
  const link = `${deps.publicUrl}/portal/reset?token=${token}`
  const text = [
    'Someone (hopefully you) asked to reset the password of your omnigate account.',
    '',
    `Choose a new password within the hour: ${link}`,
    '',
    'If you did not ask for this, ignore this mail: your password stays as it is.',
  ].join('\n')
  // The mailer logs a failure; the requester sees 202 either way.
  await mailer.send({ to: user.email, subject: 'Reset your omnigate password', text })
}

/** Sets a new password from a reset link (once, within the hour); logs out every session. */
export async function confirmPasswordReset(deps: Deps, input: { token: string; password: string }): Promise<void> {
  checkPassword(input.password)
  const at = now(deps)
  // The token is checked before the (deliberately expensive) hash: a bogus link costs nothing.
  const [valid] = await deps.store.read
    .select({ id: passwordResets.id })
    .from(passwordResets)
    .where(and(eq(passwordResets.tokenHash, hashToken(input.token)), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, at)))
  if (!valid) throw errors.invalidToken('the reset link is invalid, expired or already used', [{ field: 'token', message: 'is invalid, expired or already used' }])
  const passwordHash = await hashPassword(input.password)
  await deps.store.tx(async (tx) => {
    const [reset] = await tx
      .select()
      .from(passwordResets)
      .where(and(eq(passwordResets.tokenHash, hashToken(input.token)), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, at)))
    if (!reset) throw errors.invalidToken('the reset link is invalid, expired or already used', [{ field: 'token', message: 'is invalid, expired or already used' }])
    // Every outstanding link of this user dies with the one used.
    await tx.update(passwordResets).set({ usedAt: at }).where(and(eq(passwordResets.userId, reset.userId), isNull(passwordResets.usedAt)))
    // Following the link proves the address.
    await tx.update(users).set({ passwordHash, verified: true, updatedAt: at }).where(eq(users.id, reset.userId))
    await revokeUserSessions(tx, reset.userId, at)
  })
}
