/** Applications: client programs of a namespace; they own API keys and OAuth clients. */
import { and, desc, eq, or } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { invalidateLimitsCache } from './quotas'
import { applications } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'
import { invalidateApiKeyCache } from './api-keys'
import { invalidateClientCache } from './clients'

export type Application = typeof applications.$inferSelect

export interface NewApplication {
  name: string
  description?: string
  /** API requests per second at most; null = the namespace's limit only. */
  rateLimit?: number | null
}

export function applicationView(app: Application) {
  return {
    id: app.id,
    name: app.name,
    description: app.description,
    rate_limit: app.rateLimit,
    created_at: new Date(app.createdAt).toISOString(),
    updated_at: new Date(app.updatedAt).toISOString(),
  }
}

export async function insertApplication(
  tx: Db,
  namespaceId: string,
  input: NewApplication,
  at: number,
): Promise<Application> {
  if (!input.name.trim()) throw invalidField('name', 'must not be empty')
  const taken = await tx
    .select({ id: applications.id })
    .from(applications)
    .where(and(eq(applications.namespaceId, namespaceId), eq(applications.name, input.name)))
  if (taken[0]) throw errors.conflict(`application "${input.name}" already exists`)
  const row: Application = {
    id: newId('app'),
    namespaceId,
    name: input.name,
    description: input.description ?? '',
    rateLimit: input.rateLimit ?? null,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(applications).values(row)
  return row
}

export async function createApplication(deps: Deps, namespaceId: string, input: NewApplication) {
  return deps.store.tx((tx) => insertApplication(tx, namespaceId, input, now(deps)))
}

export async function listApplications(deps: Deps, namespaceId: string): Promise<Application[]> {
  return deps.store.read
    .select()
    .from(applications)
    .where(eq(applications.namespaceId, namespaceId))
    .orderBy(desc(applications.id))
}

/** An application by id or name, or a 404. */
export async function getApplication(deps: Deps | { store: Deps['store'] }, namespaceId: string, ref: string) {
  return findApplication(deps.store.read, namespaceId, ref)
}

async function findApplication(db: Db, namespaceId: string, ref: string): Promise<Application> {
  const rows = await db
    .select()
    .from(applications)
    .where(and(eq(applications.namespaceId, namespaceId), or(eq(applications.id, ref), eq(applications.name, ref))))
  if (!rows[0]) throw errors.applicationNotFound(`application "${ref}" does not exist`)
  return rows[0]
}

/** Renames an application or changes its description or request rate limit. */
export async function updateApplication(deps: Deps, namespaceId: string, ref: string, patch: Partial<NewApplication>): Promise<Application> {
  if (patch.name !== undefined && !patch.name.trim()) throw invalidField('name', 'must not be empty')
  const updated = await deps.store.tx(async (tx) => {
    const current = await findApplication(tx, namespaceId, ref)
    if (patch.name !== undefined && patch.name !== current.name) {
      const taken = await tx
        .select({ id: applications.id })
        .from(applications)
        .where(and(eq(applications.namespaceId, namespaceId), eq(applications.name, patch.name)))
      if (taken[0]) throw errors.conflict(`application "${patch.name}" already exists`)
    }
    const rows = await tx
      .update(applications)
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.rateLimit !== undefined ? { rateLimit: patch.rateLimit } : {}),
        updatedAt: now(deps),
      })
      .where(and(eq(applications.id, current.id), eq(applications.namespaceId, namespaceId)))
      .returning()
    return rows[0]!
  })
  // A new rate limit applies from the next request, not after the limits cache expires.
  invalidateLimitsCache()
  return updated
}

/** Deletes an application with its API keys and OAuth clients (they stop working at once). */
export async function deleteApplication(deps: Deps, namespaceId: string, ref: string): Promise<Application> {
  return deps.store.tx(async (tx) => {
    const current = await findApplication(tx, namespaceId, ref)
    await tx.delete(applications).where(and(eq(applications.id, current.id), eq(applications.namespaceId, namespaceId)))
    return current
  }).finally(() => {
    invalidateApiKeyCache()
    invalidateClientCache()
  })
}
