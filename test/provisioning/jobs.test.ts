/**
 * Provisioning as a durable job: a runner that stops after any step (as a crash would) leaves a
 * job the provisioner resumes once the lease is gone, and nothing is created twice — not even
 * when a step whose work committed is run again. A runner that lost its lease writes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count, eq } from 'drizzle-orm'
import { hashPassword, insertUser, setPasswordHashCost } from '../../src/domain/identity/users'
import {
  claimProvisioningJob,
  insertProvisioningJob,
  type ProvisioningJob,
  STEPS,
  type Step,
} from '../../src/domain/provisioning/jobs'
import { provisionByOperator } from '../../src/domain/provisioning/provision'
import { runProvisioningJob } from '../../src/domain/provisioning/steps'
import { apiKeys, applications, channels, memberships, namespaces, provisioningJobs } from '../../src/store/schema'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway'

setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })

let gw: TestGateway
let ownerId: string

beforeAll(async () => {
  gw = await startTestGateway()
  const passwordHash = await hashPassword('owner password 123')
  ownerId = (await gw.deps.store.tx((tx) => insertUser(tx, { email: 'owner@example.com', passwordHash, verified: true }, Date.now()))).id
})
afterAll(() => gw.close())

const enqueue = (slug: string, plan = 'pro') =>
  gw.deps.store.tx((tx) => insertProvisioningJob(gw.deps, tx, { slug, userId: ownerId, plan }, Date.now()))

async function jobRow(id: string): Promise<ProvisioningJob> {
  const [row] = await gw.deps.store.read.select().from(provisioningJobs).where(eq(provisioningJobs.id, id))
  return row!
}

/** Rows of the namespace per table: exactly one of each is the only right answer. */
async function inventory(namespaceId: string) {
  const rows = async (table: SQLiteTable & { namespaceId: any }) =>
    (await gw.deps.store.read.select({ n: count() }).from(table).where(eq(table.namespaceId, namespaceId)))[0]!.n
  return {
    memberships: await rows(memberships),
    channels: await rows(channels),
    applications: await rows(applications),
    api_keys: await rows(apiKeys),
  }
}

/** What a crash leaves: the lease held by a process that is gone, and since run out. */
async function crashLease(jobId: string) {
  await gw.deps.store.tx((tx) => tx.update(provisioningJobs).set({ leaseUntil: Date.now() - 1 }).where(eq(provisioningJobs.id, jobId)))
}

describe('a crash between steps', () => {
  test.each(STEPS.map((s) => [s]))('after %s: a new worker resumes, nothing is made twice', async (step: Step) => {
    const slug = `crash-after-${step}`
    const job = await enqueue(slug)
    const claimed = (await claimProvisioningJob(gw.deps.store, 'doomed-worker', job.id, 60_000, Date.now()))!
    expect(await runProvisioningJob(gw.deps, claimed, 'doomed-worker', { stopAfter: step })).toBeNull()
    const stopped = await jobRow(job.id)
    expect(stopped).toMatchObject({ step, status: 'pending', leaseOwner: 'doomed-worker' })

    // While the dead worker's lease holds, nobody else takes the job.
    expect(await claimProvisioningJob(gw.deps.store, 'eager', job.id, 60_000, Date.now())).toBeNull()

    await crashLease(job.id)
    const engine = await gw.startEngine()
    try {
      const done = await eventually(async () => {
        const row = await jobRow(job.id)
        return row.status === 'done' ? row : null
      })
      expect(done.step).toBe('done')
      expect(done.leaseOwner).toBeNull()
      const [ns] = await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, slug))
      expect(ns).toMatchObject({ id: done.namespaceId, plan: 'pro', status: 'active' })
      expect(ns!.settings.quotas).toEqual({ messages_per_day: 0, messages_per_month: 0, requests_per_second: 200 })
      expect(await inventory(ns!.id)).toEqual({ memberships: 1, channels: 1, applications: 1, api_keys: 1 })
      const [membership] = await gw.deps.store.read.select().from(memberships).where(eq(memberships.namespaceId, ns!.id))
      expect(membership).toMatchObject({ userId: ownerId, role: 'owner' })
    } finally {
      await engine.stop()
    }
  })

  test('a step run again after its work committed (its record lost) creates nothing', async () => {
    const job = await enqueue('replayed')
    const claimed = (await claimProvisioningJob(gw.deps.store, 'w1', job.id, 60_000, Date.now()))!
    const done = (await runProvisioningJob(gw.deps, claimed, 'w1'))!
    expect(done.status).toBe('done')
    const before = await inventory(done.namespaceId!)
    const [keyBefore] = await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.namespaceId, done.namespaceId!))

    // Every step's record lost: the job goes back to its start, its work all still there.
    await gw.deps.store.tx((tx) => tx.update(provisioningJobs).set({ step: 'created', status: 'pending', nextAttemptAt: Date.now() }).where(eq(provisioningJobs.id, job.id)))
    const again = (await claimProvisioningJob(gw.deps.store, 'w2', job.id, 60_000, Date.now()))!
    expect((await runProvisioningJob(gw.deps, again, 'w2'))!.status).toBe('done')
    expect(await inventory(done.namespaceId!)).toEqual(before)
    const [keyAfter] = await gw.deps.store.read.select().from(apiKeys).where(eq(apiKeys.namespaceId, done.namespaceId!))
    expect(keyAfter!.id).toBe(keyBefore!.id)
    expect(await gw.deps.store.read.select().from(namespaces).where(eq(namespaces.slug, 'replayed'))).toHaveLength(1)
  })

  test('a worker whose lease ran out and was taken over writes nothing more', async () => {
    const job = await enqueue('taken-over')
    const slow = (await claimProvisioningJob(gw.deps.store, 'slow', job.id, 60_000, Date.now()))!
    await crashLease(job.id)
    const fast = (await claimProvisioningJob(gw.deps.store, 'fast', job.id, 60_000, Date.now()))!
    expect(fast.leaseOwner).toBe('fast')
    expect(await runProvisioningJob(gw.deps, slow, 'slow')).toBeNull()
    expect(await jobRow(job.id)).toMatchObject({ step: 'created', leaseOwner: 'fast' })
    expect((await runProvisioningJob(gw.deps, fast, 'fast'))!.status).toBe('done')
  })
})

describe('failures', () => {
  test('a slug someone else took after the job was written: the job fails, naming why, and touches nothing of theirs', async () => {
    const job = await enqueue('squatted')
    const squatter = await gw.tenant('squatted')
    const claimed = (await claimProvisioningJob(gw.deps.store, 'w', job.id, 60_000, Date.now()))!
    const failed = (await runProvisioningJob(gw.deps, claimed, 'w'))!
    expect(failed).toMatchObject({ status: 'failed', step: 'created', namespaceId: null })
    expect(failed.error).toContain('squatted')
    expect(await inventory(squatter.namespaceId)).toEqual({ memberships: 0, channels: 0, applications: 1, api_keys: 1 })
  })

  test('an unknown plan is refused before anything is written, naming plan', async () => {
    await expect(provisionByOperator(gw.deps, { slug: 'planless', plan: 'platinum' })).rejects.toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'plan', message: expect.stringContaining('free, pro') }],
    })
    expect(await gw.deps.store.read.select().from(provisioningJobs).where(eq(provisioningJobs.slug, 'planless'))).toHaveLength(0)
  })

  test('operator provisioning: an existing owner, the plan, and the key once', async () => {
    const result = await provisionByOperator(gw.deps, { slug: 'by-operator', plan: 'free', ownerEmail: 'OWNER@example.com' })
    expect(result.job).toMatchObject({ status: 'done', plan: 'free', userId: ownerId })
    expect(result.apiKey).toMatch(/^og_live_/)
    expect(result.invited).toBeNull()
    expect((await gw.call('GET', '/v1/namespaces/by-operator/channels', result.apiKey!)).status).toBe(200)
    // Without mail, an owner who has no account must be created by the caller (the CLI asks for a password).
    await expect(provisionByOperator(gw.deps, { slug: 'orphan', ownerEmail: 'ghost@example.com' })).rejects.toMatchObject({ code: 'user_not_found' })
    await expect(provisionByOperator(gw.deps, { slug: 'by-operator' })).rejects.toMatchObject({ code: 'namespace_taken', errors: [{ field: 'slug' }] })
  })
})
