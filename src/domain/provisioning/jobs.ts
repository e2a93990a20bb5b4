/**
 * Provisioning jobs: the outbox rows a new tenant is built from. A job is written in the same
 * transaction as what asked for it (a verified signup, an operator's command), claimed with a
 * lease by whoever runs it, and records the last step it finished, so a crash resumes after it.
 */
import { and, asc, desc, eq, isNull, lte, or } from 'drizzle-orm'
import { SLUG_PATTERN } from '../../lib/formats'
import { newId } from '../../lib/ids'
import { namespaces, provisioningJobs } from '../../store/schema'
import type { Db, Store } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'

export type ProvisioningJob = typeof provisioningJobs.$inferSelect

/** The steps in order; `step` holds the last one done (`created` before any, `done` at the end). */
export const STEPS = ['namespace', 'owner', 'channel', 'application', 'quotas'] as const
export type Step = (typeof STEPS)[number]
export const FIRST_STEP = 'created'
export const LAST_STEP = 'done'

/** What later steps need and what is shown once; sealed in `state_enc` under the master key. */
export interface JobState {
  channel_id?: string
  application_id?: string
  key_id?: string
  /** The new API key until it has been shown once; then erased. */
  api_key?: string
  /** An owner to invite once the namespace exists (operator provisioning, owner without an account). */
  invite_owner?: string
}

/** Names a tenant cannot sign up for: they read as the instance itself. */
const RESERVED_SLUGS = new Set(['admin', 'api', 'auth', 'demo', 'docs', 'help', 'internal', 'omnigate', 'portal', 'root', 'status', 'support', 'system', 'www'])

/** A valid slug (422 naming `field` otherwise); `reserved` refuses the instance's own names too. */
export function checkSlug(slug: string, field: string, opts: { reserved: boolean }): string {
  if (!SLUG_PATTERN.test(slug)) {
    throw invalidField(field, 'lowercase letters, digits and dashes, starting with a letter or digit, at most 63')
  }
  if (opts.reserved && RESERVED_SLUGS.has(slug)) throw invalidField(field, `"${slug}" is reserved; choose another name`)
  return slug
}

/**
 * 409 `namespace_taken` naming `field` when a namespace has the slug or a job still building one
 * holds it (the first verified signup wins; a failed job frees its slug).
 */
export async function assertSlugFree(db: Db, slug: string, field: string): Promise<void> {
  const [ns] = await db.select({ id: namespaces.id }).from(namespaces).where(eq(namespaces.slug, slug))
  const [job] = ns
    ? [ns]
    : await db
        .select({ id: provisioningJobs.id })
        .from(provisioningJobs)
        .where(and(eq(provisioningJobs.slug, slug), eq(provisioningJobs.status, 'pending')))
  if (ns || job) throw errors.namespaceTaken(`${field}: "${slug}" is taken`, [{ field, message: `"${slug}" is taken; choose another name` }])
}

export function sealState(deps: Pick<Deps, 'box'>, jobId: string, state: JobState): string {
  return deps.box.sealJson(state, jobId)
}

export function openState(deps: Pick<Deps, 'box'>, job: Pick<ProvisioningJob, 'id' | 'stateEnc'>): JobState {
  return job.stateEnc ? deps.box.openJson<JobState>(job.stateEnc, job.id) : {}
}

export interface NewJob {
  slug: string
  userId: string | null
  plan: string
  state?: JobState
}

/** Writes a job inside the caller's transaction (the slug is checked free there, under the lock). */
export async function insertProvisioningJob(deps: Pick<Deps, 'box'>, tx: Db, input: NewJob, at: number, field = 'namespace'): Promise<ProvisioningJob> {
  await assertSlugFree(tx, input.slug, field)
  const id = newId('prv')
  const row: ProvisioningJob = {
    id,
    namespaceId: null,
    slug: input.slug,
    userId: input.userId,
    plan: input.plan,
    step: FIRST_STEP,
    status: 'pending',
    stateEnc: input.state ? sealState(deps, id, input.state) : null,
    error: null,
    attempts: 0,
    nextAttemptAt: at,
    leaseOwner: null,
    leaseUntil: null,
    createdAt: at,
    updatedAt: at,
  }
  await tx.insert(provisioningJobs).values(row)
  return row
}

const claimable = (at: number) =>
  and(
    eq(provisioningJobs.status, 'pending'),
    lte(provisioningJobs.nextAttemptAt, at),
    or(isNull(provisioningJobs.leaseUntil), lte(provisioningJobs.leaseUntil, at)),
  )

/** Claims up to `limit` due jobs for `owner` until `at + leaseMs`; one transaction, so never twice. */
export async function claimProvisioningJobs(store: Store, owner: string, limit: number, leaseMs: number, at: number): Promise<ProvisioningJob[]> {
  // Almost always nothing is due: a read, so an idle poll never takes the write lock.
  const [any] = await store.read.select({ id: provisioningJobs.id }).from(provisioningJobs).where(claimable(at)).limit(1)
  if (!any) return []
  return store.tx(async (tx) => {
    const due = await tx.select({ id: provisioningJobs.id }).from(provisioningJobs).where(claimable(at)).orderBy(asc(provisioningJobs.nextAttemptAt)).limit(limit)
    const claimed: ProvisioningJob[] = []
    for (const { id } of due) {
      const [row] = await tx
        .update(provisioningJobs)
        .set({ leaseOwner: owner, leaseUntil: at + leaseMs })
        .where(and(eq(provisioningJobs.id, id), claimable(at)))
        .returning()
      if (row) claimed.push(row)
    }
    return claimed
  })
}

/** Claims one job, when it is due and nobody holds it (the request that created it runs it at once). */
export async function claimProvisioningJob(store: Store, owner: string, jobId: string, leaseMs: number, at: number): Promise<ProvisioningJob | null> {
  const [row] = await store.tx((tx) =>
    tx
      .update(provisioningJobs)
      .set({ leaseOwner: owner, leaseUntil: at + leaseMs })
      .where(and(eq(provisioningJobs.id, jobId), claimable(at)))
      .returning(),
  )
  return row ?? null
}

/** Hands a job back unfinished: due again at once, for anyone. */
export async function releaseProvisioningJob(store: Store, owner: string, jobId: string): Promise<void> {
  await store.tx((tx) =>
    tx
      .update(provisioningJobs)
      .set({ leaseOwner: null, leaseUntil: null })
      .where(and(eq(provisioningJobs.id, jobId), eq(provisioningJobs.leaseOwner, owner))),
  )
}

export async function getProvisioningJob(store: Store, jobId: string): Promise<ProvisioningJob> {
  const [row] = await store.read.select().from(provisioningJobs).where(eq(provisioningJobs.id, jobId))
  if (!row) throw errors.provisioningNotFound(`provisioning job "${jobId}" does not exist`)
  return row
}

/** The latest provisioning job of a namespace, or a 404. */
export async function namespaceProvisioningJob(store: Store, namespaceId: string): Promise<ProvisioningJob> {
  const [row] = await store.read
    .select()
    .from(provisioningJobs)
    .where(eq(provisioningJobs.namespaceId, namespaceId))
    .orderBy(desc(provisioningJobs.id))
    .limit(1)
  if (!row) throw errors.provisioningNotFound('this namespace was not created by a provisioning job')
  return row
}

export async function listProvisioningJobs(store: Store, limit = 100): Promise<ProvisioningJob[]> {
  return store.read.select().from(provisioningJobs).orderBy(desc(provisioningJobs.id)).limit(limit)
}

/** `pending` reads as `provisioning` to people: the tenant is on its way. */
export type ProvisioningStatus = 'provisioning' | 'ready' | 'failed'
export const publicStatus = (job: Pick<ProvisioningJob, 'status'>): ProvisioningStatus =>
  job.status === 'done' ? 'ready' : job.status === 'failed' ? 'failed' : 'provisioning'

export function provisioningView(job: ProvisioningJob, apiKey?: string | null) {
  return {
    id: job.id,
    namespace: job.slug,
    status: publicStatus(job),
    step: job.step,
    plan: job.plan,
    error: job.error,
    attempts: job.attempts,
    created_at: new Date(job.createdAt).toISOString(),
    updated_at: new Date(job.updatedAt).toISOString(),
    ...(apiKey ? { api_key: apiKey } : {}),
  }
}

/**
 * The new API key of a finished job, exactly once: it is erased from the job in the same
 * transaction that reads it, so two readers racing get it once between them.
 */
export async function takeApiKey(deps: Deps, jobId: string): Promise<string | null> {
  return deps.store.tx(async (tx) => {
    const [job] = await tx.select().from(provisioningJobs).where(eq(provisioningJobs.id, jobId))
    if (!job || job.status !== 'done') return null
    const { api_key: apiKey, ...rest } = openState(deps, job)
    if (!apiKey) return null
    await tx.update(provisioningJobs).set({ stateEnc: sealState(deps, job.id, rest), updatedAt: now(deps) }).where(eq(provisioningJobs.id, job.id))
    return apiKey
  })
}

/** Puts a failed job back in the queue (operator: `omnigate provisioning retry`). */
export async function retryProvisioningJob(deps: Deps, jobId: string): Promise<ProvisioningJob> {
  const [row] = await deps.store.tx(async (tx) => {
    const [job] = await tx.select().from(provisioningJobs).where(eq(provisioningJobs.id, jobId))
    if (!job) throw errors.provisioningNotFound(`provisioning job "${jobId}" does not exist`)
    if (job.status !== 'failed') throw errors.conflict(`provisioning job "${jobId}" is ${publicStatus(job)}, not failed`)
    // A retried job must still own its slug (a namespace it did not create may have taken it).
    if (!job.namespaceId) await assertSlugFree(tx, job.slug, 'slug')
    return tx
      .update(provisioningJobs)
      .set({ status: 'pending', error: null, attempts: 0, nextAttemptAt: now(deps), leaseOwner: null, leaseUntil: null, updatedAt: now(deps) })
      .where(eq(provisioningJobs.id, jobId))
      .returning()
  })
  return row!
}
