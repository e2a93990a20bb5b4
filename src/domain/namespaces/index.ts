/** Namespaces: the tenants. Everything else hangs off a namespace id. */
import { desc, eq, or } from 'drizzle-orm'
import { SLUG_PATTERN } from '../../lib/formats'
import { newId } from '../../lib/ids'
import { namespaces } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'


export type Namespace = typeof namespaces.$inferSelect

export function namespaceView(ns: Namespace) {
  return {
    id: ns.id,
    slug: ns.slug,
    name: ns.name,
    status: ns.status,
    created_at: new Date(ns.createdAt).toISOString(),
  }
}

/** Inserts a namespace inside an open transaction; 409 when the slug is taken. */
export async function insertNamespace(tx: Db, input: { slug: string; name?: string }, at: number): Promise<Namespace> {
  if (!SLUG_PATTERN.test(input.slug)) {
    throw invalidField('slug', 'lowercase letters, digits and dashes, starting with a letter or digit, at most 63')
  }
  const existing = await tx.select().from(namespaces).where(eq(namespaces.slug, input.slug))
  if (existing.length > 0) throw errors.conflict(`namespace "${input.slug}" already exists`)
  const row: Namespace = {
    id: newId('ns'),
    slug: input.slug,
    name: input.name ?? input.slug,
    status: 'active',
    settings: {},
    plan: null,
    disabledAt: null,
    purgeAfter: null,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(namespaces).values(row)
  return row
}

export async function createNamespace(deps: Deps, input: { slug: string; name?: string }): Promise<Namespace> {
  return deps.store.tx((tx) => insertNamespace(tx, input, now(deps)))
}

export async function listNamespaces(deps: Deps): Promise<Namespace[]> {
  return deps.store.read.select().from(namespaces).orderBy(desc(namespaces.id))
}

/** A namespace by slug or id, or a 404. */
export async function getNamespace(deps: Deps, ref: string): Promise<Namespace> {
  const rows = await deps.store.read
    .select()
    .from(namespaces)
    .where(or(eq(namespaces.slug, ref), eq(namespaces.id, ref)))
  if (!rows[0]) throw errors.namespaceNotFound(`namespace "${ref}" does not exist`)
  return rows[0]
}
