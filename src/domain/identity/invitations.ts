/**
 * Invitations: an e-mailed one-time link (`{public_url}/portal/invite?token=…`) that makes its
 * holder a member with the invited role, creating their account when they have none.
 */
import { and, desc, eq, gt, isNull } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { emailVerifications, invitations, memberships, namespaces, users } from '../../store/schema'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { invalidateAccessCache } from './authenticate'
import { actsAsOwner, checkRole, type MemberActor } from './members'
import { checkPassword, hashOneTimeToken, hashPassword, insertUser, newOneTimeToken, normalizeEmail, userView } from './users'

export type Invitation = typeof invitations.$inferSelect

// A week: invitations wait in inboxes over weekends and holidays.
const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000

export function invitationView(inv: Invitation, at = Date.now()) {
  const status = inv.acceptedAt !== null ? 'accepted' : inv.expiresAt <= at ? 'expired' : 'pending'
  return {
    id: inv.id,
    email: inv.email,
    role: inv.role,
    status,
    invited_by: inv.invitedBy,
    expires_at: new Date(inv.expiresAt).toISOString(),
    accepted_at: inv.acceptedAt ? new Date(inv.acceptedAt).toISOString() : null,
    created_at: new Date(inv.createdAt).toISOString(),
  }
}

/**
 * Invites `email` with `role` and mails the link; a pending invitation of the same address is
 * replaced (its link stops working). 503 without `[mail]`, 502 when the mail server refuses
 * (then nothing is kept).
 */
export async function createInvitation(
  deps: Deps,
  namespaceId: string,
  input: { email: string; role: string; invitedBy?: string | null },
  actor: MemberActor,
): Promise<Invitation> {
  const mailer = deps.mailer
  if (!mailer) throw errors.mailNotConfigured('invitations are mailed: set [mail] smtp_url, or add an existing user with `omnigate member add`')
  const email = normalizeEmail(input.email)
  const role = checkRole(input.role)
  if (role === 'owner' && !actsAsOwner(actor)) throw errors.ownerRequired('only an owner can invite an owner')
  const { token, hash } = newOneTimeToken()
  const at = now(deps)
  const row: Invitation = {
    id: newId('inv'),
    namespaceId,
    email,
    role,
    tokenHash: hash,
    invitedBy: input.invitedBy ?? null,
    expiresAt: at + INVITATION_TTL_MS,
    acceptedAt: null,
    createdAt: at,
  }
  const namespace = await deps.store.tx(async (tx) => {
    const [member] = await tx
      .select({ role: memberships.role })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.namespaceId, namespaceId), eq(users.email, email)))
    if (member) throw errors.alreadyMember(`${email} is already a member (role ${member.role})`)
    await tx.delete(invitations).where(and(eq(invitations.namespaceId, namespaceId), eq(invitations.email, email), isNull(invitations.acceptedAt)))
    await tx.insert(invitations).values(row)
    const [ns] = await tx.select({ name: namespaces.name, slug: namespaces.slug }).from(namespaces).where(eq(namespaces.id, namespaceId))
    return ns!
  })
  const link = `${deps.publicUrl}/portal/invite?token=${token}`
  const text = [
    `You are invited to the namespace "${namespace.name}" (${namespace.slug}) on omnigate, as ${role}.`,
    '',
    `Accept within a week: ${link}`,
    '',
    'If you did not expect this invitation, ignore this mail.',
  ].join('\n')
  try {
    await mailer.send({ to: email, subject: `Invitation to ${namespace.name} on omnigate`, text })
  } catch {
    await deps.store.tx((tx) => tx.delete(invitations).where(eq(invitations.id, row.id)))
    throw errors.mailFailed('the invitation could not be mailed (see the log); nothing was kept, try again')
  }
  return row
}

export async function listInvitations(deps: Pick<Deps, 'store'>, namespaceId: string): Promise<Invitation[]> {
  return deps.store.read.select().from(invitations).where(eq(invitations.namespaceId, namespaceId)).orderBy(desc(invitations.id))
}

/** Withdraws an invitation: its link stops working. */
export async function revokeInvitation(deps: Deps, namespaceId: string, id: string): Promise<void> {
  const deleted = await deps.store.tx((tx) =>
    tx.delete(invitations).where(and(eq(invitations.id, id), eq(invitations.namespaceId, namespaceId))).returning({ id: invitations.id }),
  )
  if (deleted.length === 0) throw errors.invitationNotFound(`invitation "${id}" does not exist`)
}

const invalidToken = () =>
  errors.invalidToken('the invitation link is invalid, expired or already used', [{ field: 'token', message: 'is invalid, expired or already used' }])

/**
 * Accepts an invitation (unauthenticated: the link is the proof). An address without a password
 * (new, or a signup never confirmed) needs one and gets an account, verified by this very link;
 * an existing account keeps its password (`password` is ignored) and gains the membership.
 */
export async function acceptInvitation(deps: Deps, input: { token: string; password?: string; displayName?: string }) {
  const hash = hashOneTimeToken(input.token)
  const at = now(deps)
  const pending = and(eq(invitations.tokenHash, hash), isNull(invitations.acceptedAt), gt(invitations.expiresAt, at))
  const [invitation] = await deps.store.read.select().from(invitations).where(pending)
  if (!invitation) throw invalidToken()
  const [existing] = await deps.store.read.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.email, invitation.email))
  let passwordHash: string | null = null
  if (!existing?.passwordHash) {
    if (input.password === undefined) throw invalidField('password', 'is required: this address has no account yet')
    checkPassword(input.password)
    passwordHash = await hashPassword(input.password)
  }
  const result = await deps.store.tx(async (tx) => {
    // Re-checked under the write lock: a link works once, even when clicked twice at once.
    const [inv] = await tx.select().from(invitations).where(pending)
    if (!inv) throw invalidToken()
    let [user] = await tx.select().from(users).where(eq(users.email, inv.email))
    const created = !user
    if (!user) user = await insertUser(tx, { email: inv.email, displayName: input.displayName, passwordHash, verified: true }, at)
    else if (user.passwordHash === null) {
      // A signup never confirmed: the password chosen here is the account's, and the signup's
      // links die (they would otherwise set the password chosen there).
      if (passwordHash === null) throw invalidField('password', 'is required: this address has no account yet')
      await tx.update(users).set({ passwordHash, verified: true, updatedAt: at }).where(eq(users.id, user.id))
      await tx.update(emailVerifications).set({ usedAt: at }).where(and(eq(emailVerifications.userId, user.id), isNull(emailVerifications.usedAt)))
      user = { ...user, passwordHash }
    } else if (!user.verified) await tx.update(users).set({ verified: true, updatedAt: at }).where(eq(users.id, user.id))
    const [membership] = await tx
      .select({ role: memberships.role })
      .from(memberships)
      .where(and(eq(memberships.namespaceId, inv.namespaceId), eq(memberships.userId, user.id)))
    // Someone added them meanwhile: their role stays as it is.
    if (!membership) await tx.insert(memberships).values({ namespaceId: inv.namespaceId, userId: user.id, role: inv.role, createdAt: at })
    await tx.update(invitations).set({ acceptedAt: at }).where(eq(invitations.id, inv.id))
    const [ns] = await tx.select({ id: namespaces.id, slug: namespaces.slug, name: namespaces.name }).from(namespaces).where(eq(namespaces.id, inv.namespaceId))
    return { namespace: ns!, role: membership?.role ?? inv.role, user: { ...user, verified: true }, created }
  })
  invalidateAccessCache()
  return { namespace: result.namespace, role: result.role, user: userView(result.user), user_created: result.created }
}
