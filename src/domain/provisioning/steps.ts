/**
 * Running a provisioning job: each step does its work and records itself as done in one
 * transaction, and checks first whether its work is already there, so running a step twice (a
 * crash, a lost lease, an operator's retry) creates nothing twice.
 */
import { and, eq } from 'drizzle-orm'
import { apiKeys, applications, channels, memberships, namespaces, provisioningJobs, users } from '../../store/schema'
import type { Db } from '../../store/store'
import { insertChannel } from '../channels'
import { invalidateChannelCache } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { AppError, errors } from '../errors'
import { invalidateApiKeyCache, insertApiKey } from '../identity/api-keys'
import { insertApplication } from '../identity/applications'
import { invalidateAccessCache } from '../identity/authenticate'
import { createInvitation } from '../identity/invitations'
import { invalidateLimitsCache } from '../identity/quotas'
import { insertNamespace } from '../namespaces'
import { FIRST_STEP, type JobState, LAST_STEP, openState, type ProvisioningJob, sealState, type Step, STEPS } from './jobs'
import { findPlan, planQuotas } from './plans'

/** What every provisioned namespace starts with. */
export const SANDBOX_CHANNEL = 'sandbox'
export const DEFAULT_APPLICATION = 'default'

// A step takes milliseconds; the lease is renewed at every step, so 30 s only matters after a crash.
export const PROVISIONING_LEASE_MS = 30_000
// Transient failures (a busy store, a mail server down) are retried this often, then the job fails.
const MAX_ATTEMPTS = 8
const RETRY_BASE_MS = 1000
const RETRY_MAX_MS = 5 * 60_000

/** The lease went to someone else (it ran out): this runner stops without touching the job. */
class LeaseLost extends Error {}

interface StepContext {
  deps: Deps
  tx: Db
  job: ProvisioningJob
  state: JobState
  at: number
}

/** A step's result: the namespace it made (first step), and the state later steps need. */
type StepResult = { namespaceId?: string }

async function namespaceStep({ tx, job, at }: StepContext): Promise<StepResult> {
  if (job.namespaceId) {
    const [mine] = await tx.select({ id: namespaces.id }).from(namespaces).where(eq(namespaces.id, job.namespaceId))
    if (mine) return {}
  }
  const [taken] = await tx.select({ id: namespaces.id }).from(namespaces).where(eq(namespaces.slug, job.slug))
  if (taken) throw errors.namespaceTaken(`namespace "${job.slug}" was created by someone else meanwhile`, [{ field: 'namespace', message: 'is taken' }])
  const ns = await insertNamespace(tx, { slug: job.slug }, at)
  return { namespaceId: ns.id }
}

async function ownerStep({ tx, job, at }: StepContext, namespaceId: string): Promise<StepResult> {
  if (!job.userId) return {}
  const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.id, job.userId))
  if (!user) throw errors.userNotFound('the owner to be has been deleted')
  const [member] = await tx
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.namespaceId, namespaceId), eq(memberships.userId, job.userId)))
  if (!member) await tx.insert(memberships).values({ namespaceId, userId: job.userId, role: 'owner', createdAt: at })
  return {}
}

async function channelStep({ deps, tx, state }: StepContext, namespaceId: string): Promise<StepResult> {
  const [existing] = await tx
    .select({ id: channels.id })
    .from(channels)
    .where(and(eq(channels.namespaceId, namespaceId), eq(channels.name, SANDBOX_CHANNEL)))
  state.channel_id = existing?.id ?? (await insertChannel(deps, tx, namespaceId, { name: SANDBOX_CHANNEL, type: 'sandbox' }, {})).id
  return {}
}

async function applicationStep({ tx, state, at }: StepContext, namespaceId: string): Promise<StepResult> {
  if (state.key_id) {
    const [key] = await tx.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.id, state.key_id), eq(apiKeys.namespaceId, namespaceId)))
    if (key) return {}
  }
  const [existing] = await tx
    .select({ id: applications.id })
    .from(applications)
    .where(and(eq(applications.namespaceId, namespaceId), eq(applications.name, DEFAULT_APPLICATION)))
  const applicationId =
    existing?.id ?? (await insertApplication(tx, namespaceId, { name: DEFAULT_APPLICATION, description: 'Created with the namespace' }, at)).id
  const { key, secret } = await insertApiKey(tx, namespaceId, { applicationId, name: 'default' }, at)
  Object.assign(state, { application_id: applicationId, key_id: key.id, api_key: secret })
  return {}
}

async function quotasStep({ deps, tx, job, at }: StepContext, namespaceId: string): Promise<StepResult> {
  const plan = findPlan(deps.config, job.plan ?? deps.config.signup.default_plan)
  const [ns] = await tx.select({ settings: namespaces.settings }).from(namespaces).where(eq(namespaces.id, namespaceId))
  await tx
    .update(namespaces)
    .set({ plan: plan.name, settings: { ...(ns?.settings ?? {}), quotas: planQuotas(plan) }, updatedAt: at })
    .where(eq(namespaces.id, namespaceId))
  return {}
}

const STEP_RUNNERS: Record<Step, (ctx: StepContext, namespaceId: string) => Promise<StepResult>> = {
  namespace: namespaceStep,
  owner: ownerStep,
  channel: channelStep,
  application: applicationStep,
  quotas: quotasStep,
}

/** Caches that must forget what a step changed, in this process, once it committed. */
const AFTER_COMMIT: Partial<Record<Step, () => void>> = {
  owner: invalidateAccessCache,
  channel: invalidateChannelCache,
  application: invalidateApiKeyCache,
  quotas: invalidateLimitsCache,
}

export function nextStep(job: Pick<ProvisioningJob, 'step'>): Step | typeof LAST_STEP {
  if (job.step === FIRST_STEP) return STEPS[0]
  const index = STEPS.indexOf(job.step as Step)
  return index < 0 || index === STEPS.length - 1 ? LAST_STEP : STEPS[index + 1]!
}

/** The job as `owner` holds it, inside a transaction; LeaseLost when it does not any more. */
async function heldJob(tx: Db, jobId: string, owner: string): Promise<ProvisioningJob> {
  const [job] = await tx
    .select()
    .from(provisioningJobs)
    .where(and(eq(provisioningJobs.id, jobId), eq(provisioningJobs.leaseOwner, owner), eq(provisioningJobs.status, 'pending')))
  if (!job) throw new LeaseLost()
  return job
}

/**
 * Mailed before the owner step records itself: a crash in between mails the invitation again,
 * which replaces the first link (the owner gets two mails, only the newest link works).
 */
async function inviteOwner(deps: Deps, job: ProvisioningJob, state: JobState): Promise<void> {
  if (job.userId || !state.invite_owner || !job.namespaceId) return
  await createInvitation(deps, job.namespaceId, { email: state.invite_owner, role: 'owner', invitedBy: null }, { role: null, instanceAdmin: true })
}

export interface RunOptions {
  leaseMs?: number
  /** Stops (as a crash would) once this step is recorded. Tests only. */
  stopAfter?: Step
  signal?: AbortSignal
}

/**
 * Runs the job `owner` has claimed from its next step to the end. Returns the job as left:
 * `done`, `failed` (a permanent error, or too many transient ones), or `pending` with a later
 * attempt (a transient error), or null when the lease was lost or the run was stopped.
 */
export async function runProvisioningJob(deps: Deps, claimed: ProvisioningJob, owner: string, opts: RunOptions = {}): Promise<ProvisioningJob | null> {
  const leaseMs = opts.leaseMs ?? PROVISIONING_LEASE_MS
  let job = claimed
  try {
    for (;;) {
      if (opts.signal?.aborted) return null
      const step = nextStep(job)
      if (step === 'owner') await inviteOwner(deps, job, openState(deps, job))
      job = await deps.store.tx(async (tx) => {
        const current = await heldJob(tx, job.id, owner)
        const at = now(deps)
        if (step === LAST_STEP) {
          const [done] = await tx
            .update(provisioningJobs)
            .set({ step: LAST_STEP, status: 'done', error: null, nextAttemptAt: null, leaseOwner: null, leaseUntil: null, updatedAt: at })
            .where(eq(provisioningJobs.id, current.id))
            .returning()
          return done!
        }
        const state = openState(deps, current)
        const ctx: StepContext = { deps, tx, job: current, state, at }
        const result = await STEP_RUNNERS[step](ctx, current.namespaceId ?? '')
        const [updated] = await tx
          .update(provisioningJobs)
          .set({
            step,
            namespaceId: result.namespaceId ?? current.namespaceId,
            stateEnc: sealState(deps, current.id, state),
            leaseUntil: at + leaseMs,
            updatedAt: at,
          })
          .where(eq(provisioningJobs.id, current.id))
          .returning()
        return updated!
      })
      if (step === LAST_STEP) return job
      AFTER_COMMIT[step]?.()
      if (opts.stopAfter === step) return null
    }
  } catch (error) {
    if (error instanceof LeaseLost) return null
    return recordFailure(deps, job, owner, error)
  }
}

/** Errors worth another attempt: anything but a refusal with a reason (a mail server down is one). */
const isTransient = (error: unknown) => !(error instanceof AppError) || error.code === errors.mailFailed.code

async function recordFailure(deps: Deps, job: ProvisioningJob, owner: string, error: unknown): Promise<ProvisioningJob | null> {
  const at = now(deps)
  const attempts = job.attempts + 1
  const message = (error instanceof AppError ? error.detail : error instanceof Error ? error.message : String(error)).slice(0, 500)
  const failed = !isTransient(error) || attempts >= MAX_ATTEMPTS
  const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempts - 1))
  const [row] = await deps.store.tx((tx) =>
    tx
      .update(provisioningJobs)
      .set({
        attempts,
        error: message,
        status: failed ? 'failed' : 'pending',
        nextAttemptAt: failed ? null : at + delay,
        leaseOwner: null,
        leaseUntil: null,
        updatedAt: at,
      })
      .where(and(eq(provisioningJobs.id, job.id), eq(provisioningJobs.leaseOwner, owner)))
      .returning(),
  )
  return row ?? null
}
