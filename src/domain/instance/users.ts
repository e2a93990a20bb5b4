/**
 * The instance's users, for its operators (`GET /v1/users`, the portal's admin pages): each with
 * the namespaces they belong to and their role there. Never a password hash.
 */
import { and, count, desc, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm'
import { memberships, namespaces, passwordResets, users } from '../../store/schema'
import { type Deps, now } from '../deps'
import { errors } from '../errors'
import { forgetCachedSessions, revokeUserSessions } from '../identity/sessions'
import { userView } from '../identity/users'

export interface UserListQuery {
  limit: number
  /** The last id of the previous page. */
  cursor?: string
  /** Only addresses containing this text (case-insensitive). */
  email?: string
}

/** `%` and `_` are LIKE wildcards: matched literally here. */
const likeLiteral = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`

/** A page of users, newest first, with their memberships. */
export async function listUsers(deps: Pick<Deps, 'store'>, q: UserListQuery) {
  const where: SQL[] = []
  if (q.cursor) where.push(lt(users.id, q.cursor))
  if (q.email) where.push(sql`${users.email} LIKE ${likeLiteral(q.email)} ESCAPE '\\'`)
  const rows = await deps.store.read
    .select()
    .from(users)
    .where(and(...where))
    .orderBy(desc(users.id))
    .limit(q.limit + 1)
  const page = rows.slice(0, q.limit)
  const ids = page.map((u) => u.id)
  const member = ids.length
    ? await deps.store.read
        .select({ userId: memberships.userId, slug: namespaces.slug, role: memberships.role })
        .from(memberships)
        .innerJoin(namespaces, eq(namespaces.id, memberships.namespaceId))
        .where(inArray(memberships.userId, ids))
        .orderBy(namespaces.slug)
    : []
  const byUser = new Map<string, { namespace: string; role: string }[]>()
  for (const m of member) {
    const list = byUser.get(m.userId) ?? []
    list.push({ namespace: m.slug, role: m.role })
    byUser.set(m.userId, list)
  }
  return {
    data: page.map((u) => ({ ...userView(u), namespaces: byUser.get(u.id) ?? [] })),
    next_cursor: rows.length > q.limit ? page.at(-1)!.id : null,
  }
}

/**
 * Disables or enables an account (instance admins; `ref` is the user's id or e-mail). A disabled
 * user cannot sign in or ask for a password reset (links already mailed die), and every session
 * they hold ends now: their
 * access tokens and portal cookie are refused from the next request. Nobody disables their own
 * account, and the last enabled instance admin stays enabled, so the instance keeps an operator.
 */
export async function setUserDisabled(deps: Pick<Deps, 'store' | 'now'>, actorUserId: string | null, ref: string, disabled: boolean) {
  const at = now(deps)
  const view = await deps.store.tx(async (tx) => {
    const [user] = await tx
      .select()
      .from(users)
      .where(or(eq(users.id, ref), eq(users.email, ref.trim().toLowerCase())))
    if (!user) throw errors.notFound(`no user "${ref}"`)
    if (disabled && !user.disabled) {
      if (user.id === actorUserId) throw errors.conflict('you cannot disable your own account')
      if (user.instanceAdmin) {
        const [admins] = await tx
          .select({ n: count() })
          .from(users)
          .where(and(eq(users.instanceAdmin, true), eq(users.disabled, false)))
        if ((admins?.n ?? 0) <= 1) throw errors.conflict('the last enabled instance admin cannot be disabled')
      }
    }
    if (user.disabled === disabled) return userView(user)
    await tx.update(users).set({ disabled, updatedAt: at }).where(eq(users.id, user.id))
    if (disabled) {
      await revokeUserSessions(tx, user.id, at)
      await tx.update(passwordResets).set({ usedAt: at }).where(and(eq(passwordResets.userId, user.id), isNull(passwordResets.usedAt)))
    }
    return userView({ ...user, disabled, updatedAt: at })
  })
  // Again after the commit: a request in between may have cached the session as it was.
  forgetCachedSessions()
  return view
}
