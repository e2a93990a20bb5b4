/**
 * Provisioning a tenant: enqueue the job (the same for a verified signup and an operator's
 * `omnigate namespace create --plan --owner`), then run it right here while the caller waits a
 * little; whatever is left (a slow store, a crash) the engine's provisioner finishes.
 */
import { hostname } from 'node:os'
import { type Deps, now } from '../deps'
import { errors } from '../errors'
import { findUserByEmail, normalizeEmail } from '../identity/users'
import {
  assertSlugFree,
  checkSlug,
  claimProvisioningJob,
  getProvisioningJob,
  insertProvisioningJob,
  type JobState,
  type ProvisioningJob,
  takeApiKey,
} from './jobs'
import { findPlan } from './plans'
import { PROVISIONING_LEASE_MS, runProvisioningJob } from './steps'

/** How long a verify call waits for its namespace before answering "provisioning". */
export const PROVISION_WAIT_MS = 2000

const inlineOwner = () => `${hostname()}:${process.pid}:provision:${Math.random().toString(36).slice(2, 8)}`

/** Resolves with the promise's value, or `undefined` once `ms` passed (the promise runs on). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: Timer | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

export interface ProvisionResult {
  job: ProvisioningJob
  /** The namespace's API key when the job finished in time and `revealKey` was asked: shown once. */
  apiKey: string | null
}

/**
 * Runs a just-created job in this process, waiting at most `waitMs`; the key is taken (erased
 * from the job) only when `revealKey`, so it is shown exactly once to whoever gets it here.
 */
export async function provisionNow(deps: Deps, jobId: string, opts: { waitMs?: number; revealKey: boolean }): Promise<ProvisionResult> {
  const owner = inlineOwner()
  const claimed = await claimProvisioningJob(deps.store, owner, jobId, PROVISIONING_LEASE_MS, now(deps))
  if (claimed) {
    const run = runProvisioningJob(deps, claimed, owner).catch(() => null)
    await within(run, opts.waitMs ?? PROVISION_WAIT_MS)
  }
  let job = await getProvisioningJob(deps.store, jobId)
  const apiKey = opts.revealKey && job.status === 'done' ? await takeApiKey(deps, jobId) : null
  if (apiKey) job = await getProvisioningJob(deps.store, jobId)
  return { job, apiKey }
}

export interface OperatorProvisioning {
  slug: string
  /** A plan of `[[plans]]`; `[signup] default_plan` when absent. */
  plan?: string
  /** The owner's e-mail: an existing user becomes owner; otherwise see `ownerPassword` and mail. */
  ownerEmail?: string
  /** For an owner without an account when the instance cannot mail: creates it, returns its id. */
  createOwner?: (email: string) => Promise<string>
}

/**
 * `omnigate namespace create SLUG --plan P --owner EMAIL`: the signup's provisioning path,
 * started by an operator. An owner without an account is invited by mail (the account is made
 * when they accept, with their own password) or, when the instance has no mail, created by
 * `createOwner`.
 */
export async function provisionByOperator(deps: Deps, input: OperatorProvisioning, waitMs = 30_000): Promise<ProvisionResult & { invited: string | null }> {
  const slug = checkSlug(input.slug, 'slug', { reserved: false })
  const plan = findPlan(deps.config, input.plan ?? deps.config.signup.default_plan, input.plan ? 'plan' : 'signup.default_plan')
  // Before any account is made for the owner: a taken slug must change nothing.
  await assertSlugFree(deps.store.read, slug, 'slug')
  let userId: string | null = null
  const state: JobState = {}
  let invited: string | null = null
  if (input.ownerEmail !== undefined) {
    const email = normalizeEmail(input.ownerEmail, 'owner')
    const user = await findUserByEmail(deps, email)
    if (user) userId = user.id
    else if (deps.mailer) state.invite_owner = invited = email
    else if (input.createOwner) userId = await input.createOwner(email)
    else throw errors.userNotFound(`owner: no user ${email}, and the instance cannot mail an invitation ([mail] smtp_url)`)
  }
  const job = await deps.store.tx((tx) => insertProvisioningJob(deps, tx, { slug, userId, plan: plan.name, state }, now(deps), 'slug'))
  return { ...(await provisionNow(deps, job.id, { waitMs, revealKey: true })), invited }
}
