/** Applications: client programs of a namespace; they own API keys. */
import { and, desc, eq, or } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { applications } from '../../store/schema'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'

export type Application = typeof applications.$inferSelect

export function applicationView(app: Application) {
  return {
    id: app.id,
    name: app.name,
    description: app.description,
    created_at: new Date(app.createdAt).toISOString(),
  }
}

export async function insertApplication(
  tx: Db,
  namespaceId: string,
  input: { name: string; description?: string },
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
    rateLimit: null,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(applications).values(row)
  return row
}

export async function createApplication(deps: Deps, namespaceId: string, input: { name: string; description?: string }) {
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
  const rows = await deps.store.read
    .select()
    .from(applications)
    .where(and(eq(applications.namespaceId, namespaceId), or(eq(applications.id, ref), eq(applications.name, ref))))
  if (!rows[0]) throw errors.applicationNotFound(`application "${ref}" does not exist`)
  return rows[0]
}
