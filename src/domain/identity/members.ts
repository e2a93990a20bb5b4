/**
 * Members of a namespace: users with a role. Owners are protected: only an owner (or an
 * instance admin) can make, demote or remove an owner, and the last owner stays.
 */
import { and, asc, eq } from 'drizzle-orm'
import { memberships, namespaces, users } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { invalidateAccessCache } from './authenticate'
import { isRole, ROLES, type Role } from './roles'

/** Who asks for a membership change: their role here (null for applications) and admin flag. */
export interface MemberActor {
  role: string | null
  instanceAdmin: boolean
}

/** The actor may touch owners: an owner of this namespace, or an instance admin. */
export const actsAsOwner = (actor: MemberActor) => actor.role === 'owner' || actor.instanceAdmin

export function checkRole(role: string, field = 'role'): Role {
  if (!isRole(role)) throw invalidField(field, `must be one of ${ROLES.join(', ')}`)
  return role
}

export interface Member {
  userId: string
  email: string
  displayName: string
  role: string
  createdAt: number
}

export function memberView(m: Member) {
  return { user_id: m.userId, email: m.email, display_name: m.displayName, role: m.role, created_at: new Date(m.createdAt).toISOString() }
}

const memberColumns = {
  userId: memberships.userId,
  email: users.email,
  displayName: users.displayName,
  role: memberships.role,
  createdAt: memberships.createdAt,
}

export async function listMembers(deps: Pick<Deps, 'store'>, namespaceId: string): Promise<Member[]> {
  return deps.store.read
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.namespaceId, namespaceId))
    .orderBy(asc(memberships.createdAt), asc(users.email))
}

async function memberIn(tx: Db, namespaceId: string, userId: string): Promise<Member> {
  const [row] = await tx
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.userId, userId)))
  if (!row) throw errors.memberNotFound(`user "${userId}" is not a member of this namespace`)
  return row
}

async function ownerCount(tx: Db, namespaceId: string): Promise<number> {
  const rows = await tx
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.role, 'owner')))
  return rows.length
}

/** Adds a membership inside an open transaction; 409 when the user is already a member. */
export async function insertMembership(tx: Db, namespaceId: string, userId: string, role: Role, at: number): Promise<void> {
  const [existing] = await tx
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.userId, userId)))
  if (existing) throw errors.alreadyMember(`the user is already a member (role ${existing.role})`)
  await tx.insert(memberships).values({ namespaceId, userId, role, createdAt: at })
}

/** Adds an existing user by id (CLI `member add` without mail). */
export async function addMember(deps: Deps, namespaceId: string, input: { userId: string; role: string }, actor: MemberActor): Promise<Member> {
  const role = checkRole(input.role)
  if (role === 'owner' && !actsAsOwner(actor)) throw errors.ownerRequired('only an owner can add an owner')
  const member = await deps.store.tx(async (tx) => {
    await insertMembership(tx, namespaceId, input.userId, role, now(deps))
    return memberIn(tx, namespaceId, input.userId)
  })
  invalidateAccessCache()
  return member
}

export async function setMemberRole(deps: Deps, namespaceId: string, userId: string, newRole: string, actor: MemberActor): Promise<Member> {
  const role = checkRole(newRole)
  const member = await deps.store.tx(async (tx) => {
    const current = await memberIn(tx, namespaceId, userId)
    if ((current.role === 'owner' || role === 'owner') && !actsAsOwner(actor)) {
      throw errors.ownerRequired(current.role === 'owner' ? 'only an owner can change the role of an owner' : 'only an owner can make an owner')
    }
    if (current.role === 'owner' && role !== 'owner' && (await ownerCount(tx, namespaceId)) <= 1) {
      throw errors.lastOwner('this is the last owner of the namespace: make another member owner first')
    }
    await tx.update(memberships).set({ role }).where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.userId, userId)))
    return { ...current, role }
  })
  invalidateAccessCache()
  return member
}

export async function removeMember(deps: Deps, namespaceId: string, userId: string, actor: MemberActor): Promise<void> {
  await deps.store.tx(async (tx) => {
    const current = await memberIn(tx, namespaceId, userId)
    if (current.role === 'owner') {
      if (!actsAsOwner(actor)) throw errors.ownerRequired('only an owner can remove an owner')
      if ((await ownerCount(tx, namespaceId)) <= 1) throw errors.lastOwner('this is the last owner of the namespace: make another member owner first')
    }
    await tx.delete(memberships).where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.userId, userId)))
  })
  invalidateAccessCache()
}

/** The namespaces a user is a member of, with the role in each (`GET /v1/auth/me`). */
export async function userNamespaces(deps: Pick<Deps, 'store'>, userId: string) {
  return deps.store.read
    .select({ id: namespaces.id, slug: namespaces.slug, name: namespaces.name, status: namespaces.status, role: memberships.role, createdAt: namespaces.createdAt })
    .from(memberships)
    .innerJoin(namespaces, eq(namespaces.id, memberships.namespaceId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(namespaces.slug))
}
