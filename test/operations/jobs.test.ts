/**
 * Scheduled jobs on lease rows: two instances (two stores on one database file, as two
 * processes would have) never run the same job at once, a run is recorded with its outcome,
 * a crashed holder's lease runs out, and `omnigate jobs list` shows it all.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { acquireJobLease, JobRunner, listJobRuns } from '../../src/engine/jobs'
import { silentLogger } from '../../src/lib/log'
import { generateMasterKey } from '../../src/lib/secrets'
import { openBunSqliteStore } from '../../src/store/bun-sqlite'
import { migrate } from '../../src/store/migrate'
import { jobRuns } from '../../src/store/schema'
import type { Store } from '../../src/store/store'
import { tempDir } from '../helpers/stores'

let dir: ReturnType<typeof tempDir>
let dbPath: string
let first: Store
let second: Store

beforeAll(async () => {
  dir = tempDir()
  dbPath = join(dir.path, 'og.db')
  first = openBunSqliteStore(dbPath, { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
  await migrate(first)
  second = openBunSqliteStore(dbPath, { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
})
afterAll(async () => {
  await first.close()
  await second.close()
  dir.cleanup()
})

/** A job whose run waits until released, counting how many runs are inside it at once. */
function gatedJob(name: string) {
  const state = { running: 0, maxRunning: 0, runs: 0, release: () => {} }
  let gate = Promise.withResolvers<void>()
  state.release = () => {
    gate.resolve()
    gate = Promise.withResolvers<void>()
  }
  const spec = {
    name,
    schedule: '0 3 * * *',
    run: async () => {
      state.running++
      state.runs++
      state.maxRunning = Math.max(state.maxRunning, state.running)
      await gate.promise
      state.running--
    },
  }
  return { spec, state }
}

const runRow = async (name: string) => (await listJobRuns(first)).find((r) => r.name === name)

describe('job leases', () => {
  test('a second instance skips the job while the first runs it, and runs it once it is free', async () => {
    const { spec, state } = gatedJob('lease-test')
    const a = new JobRunner(first, silentLogger, { owner: 'instance-a' })
    const b = new JobRunner(second, silentLogger, { owner: 'instance-b' })
    a.define(spec)
    b.define(spec)
    const running = a.run('lease-test')
    await Bun.sleep(20)
    expect(state.running).toBe(1)
    expect((await runRow('lease-test'))?.leaseOwner).toBe('instance-a')
    expect(await b.run('lease-test')).toBe('skipped')
    state.release()
    expect(await running).toBe('ok')
    const done = await runRow('lease-test')
    expect(done).toMatchObject({ leaseOwner: null, leaseUntil: null, lastStatus: 'ok', lastError: null })
    expect(done!.lastFinishedAt!).toBeGreaterThanOrEqual(done!.lastStartedAt!)
    // Free now: the other instance takes it, unless a run started too recently for its slot.
    expect(await b.run('lease-test', { minGapMs: 60_000 })).toBe('skipped')
    const again = b.run('lease-test')
    await Bun.sleep(20)
    state.release()
    expect(await again).toBe('ok')
    expect(state.runs).toBe(2)
    expect(state.maxRunning).toBe(1)
  })

  test('two processes racing for the same lease: exactly one gets it', async () => {
    // Separate processes, as two instances would be (two connections in one process would only
    // wait on each other's lock synchronously).
    const script = join(dir.path, 'race.ts')
    const src = join(import.meta.dir, '..', '..', 'src')
    writeFileSync(
      script,
      `import { acquireJobLease } from '${src}/engine/jobs'
import { openBunSqliteStore } from '${src}/store/bun-sqlite'
const [path, owner, startAt] = process.argv.slice(2)
const store = openBunSqliteStore(path, { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
await Bun.sleep(Math.max(0, Number(startAt) - Date.now()))
let won = 0
for (let i = 0; i < 10; i++) if (await acquireJobLease(store, 'race-test', owner, Date.now(), 60_000)) won++
await store.close()
console.log(won)
`,
    )
    const startAt = String(Date.now() + 500)
    const procs = ['racer-1', 'racer-2'].map((owner) => Bun.spawn([process.execPath, script, dbPath, owner, startAt], { stdout: 'pipe', stderr: 'pipe' }))
    const wins = await Promise.all(procs.map(async (p) => Number((await new Response(p.stdout).text()).trim())))
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0])
    expect(wins[0]! + wins[1]!).toBe(1)
    expect((await runRow('race-test'))?.leaseOwner).toBe(wins[0] === 1 ? 'racer-1' : 'racer-2')
  })

  test('a failing run is recorded with its error; the lease is released', async () => {
    const runner = new JobRunner(first, silentLogger)
    runner.define({ name: 'failing-test', schedule: '0 3 * * *', run: async () => Promise.reject(new Error('disk on fire')) })
    expect(await runner.run('failing-test')).toBe('error')
    expect(await runRow('failing-test')).toMatchObject({ lastStatus: 'error', lastError: 'disk on fire', leaseOwner: null })
  })

  test('a database that cannot take the write: the run is an error, logged, the job not run, and nothing rejects unhandled', async () => {
    const impatient = openBunSqliteStore(dbPath, { synchronous: 'NORMAL', busyTimeoutMs: 20 })
    const logged: string[] = []
    const log = { ...silentLogger, error: (message: string, fields?: Record<string, unknown>) => void logged.push(`${message} ${String(fields?.error)}`) }
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    let runs = 0
    const runner = new JobRunner(impatient, log)
    runner.define({ name: 'busy-test', schedule: '0 3 * * *', run: async () => void runs++ })
    // Another process holds the write lock past busy_timeout.
    const other = new Database(dbPath)
    try {
      other.run('BEGIN IMMEDIATE')
      expect(await runner.run('busy-test')).toBe('error')
      await Bun.sleep(20)
      other.run('COMMIT')
      expect(runs).toBe(0)
      expect(logged).toEqual([expect.stringMatching(/^job not started: its lease could not be taken .*database is locked/)])
      expect(unhandled).toEqual([])
      // Free again: the next run takes it.
      expect(await runner.run('busy-test')).toBe('ok')
      expect(runs).toBe(1)
    } finally {
      process.off('unhandledRejection', onUnhandled)
      other.close()
      await impatient.close()
    }
  })

  test('a run whose record cannot be written still counts as run; the lease runs out by itself', async () => {
    const impatient = openBunSqliteStore(dbPath, { synchronous: 'NORMAL', busyTimeoutMs: 20 })
    const logged: string[] = []
    const log = { ...silentLogger, error: (message: string) => void logged.push(message) }
    const other = new Database(dbPath)
    const runner = new JobRunner(impatient, log, { owner: 'instance-busy', leaseMs: 60_000 })
    // The job ends while another process holds the write lock.
    runner.define({ name: 'unrecorded-test', schedule: '0 3 * * *', run: async () => void other.run('BEGIN IMMEDIATE') })
    try {
      expect(await runner.run('unrecorded-test')).toBe('ok')
      other.run('COMMIT')
      expect(logged).toEqual(['job run not recorded'])
      expect(await runRow('unrecorded-test')).toMatchObject({ leaseOwner: 'instance-busy', lastFinishedAt: null })
    } finally {
      if (other.inTransaction) other.run('ROLLBACK')
      other.close()
      await impatient.close()
    }
  })

  test("a crashed holder's lease runs out and another instance takes the job", async () => {
    const { spec, state } = gatedJob('crash-test')
    const b = new JobRunner(second, silentLogger, { owner: 'instance-b' })
    b.define(spec)
    const at = Date.now()
    expect(await acquireJobLease(first, 'crash-test', 'crashed-instance', at - 120_000, 60_000)).toBe(true)
    await first.tx((tx) => tx.update(jobRuns).set({ lastStartedAt: at - 120_000 }).where(eq(jobRuns.name, 'crash-test')))
    const run = b.run('crash-test')
    await Bun.sleep(20)
    state.release()
    expect(await run).toBe('ok')
    expect(await runRow('crash-test')).toMatchObject({ lastStatus: 'ok', leaseOwner: null })
  })

  test('a long run renews its lease, so nobody takes it meanwhile', async () => {
    const { spec, state } = gatedJob('renew-test')
    const a = new JobRunner(first, silentLogger, { owner: 'instance-a', leaseMs: 80 })
    const b = new JobRunner(second, silentLogger, { owner: 'instance-b', leaseMs: 80 })
    a.define(spec)
    b.define(spec)
    const running = a.run('renew-test')
    // Several lease lengths later the run still holds it.
    await Bun.sleep(300)
    expect(await b.run('renew-test')).toBe('skipped')
    expect((await runRow('renew-test'))!.leaseUntil!).toBeGreaterThan(Date.now())
    state.release()
    expect(await running).toBe('ok')
  })

  test('stop() aborts a running job through its signal and waits for it', async () => {
    const runner = new JobRunner(first, silentLogger)
    let aborted = false
    runner.define({
      name: 'stop-test',
      schedule: '0 3 * * *',
      run: (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true
            resolve()
          })
        }),
    })
    const running = runner.run('stop-test')
    await Bun.sleep(20)
    await runner.stop(2000)
    expect(aborted).toBe(true)
    expect(await running).toBe('ok')
    expect((await runRow('stop-test'))?.leaseOwner).toBeNull()
  })
})

describe('omnigate jobs', () => {
  const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
  const key = generateMasterKey()
  let cli: ReturnType<typeof tempDir>
  let config: string
  const omnigate = (...args: string[]) => {
    const proc = Bun.spawnSync([process.execPath, MAIN, '--config', config, ...args], { cwd: cli.path, env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: key } })
    return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
  }
  beforeAll(() => {
    cli = tempDir()
    config = join(cli.path, 'omnigate.toml')
    writeFileSync(config, `[database]\nurl = "file:${join(cli.path, 'og.db')}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  })
  afterAll(() => cli.cleanup())

  test('list shows every job with its schedule and next run; never run at first', () => {
    const { code, stdout, stderr } = omnigate('jobs', 'list')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const [header, ...rows] = stdout.trim().split('\n')
    expect(header).toMatch(/^NAME\s+SCHEDULE\s+LAST_RUN\s+STATUS\s+NEXT_RUN\s+LAST_ERROR$/)
    const names = rows.map((r) => r.split(/\s+/)[0])
    expect(names).toEqual(expect.arrayContaining(['idempotency-keys-cleanup', 'pending-statuses-cleanup', 'retention']))
    const retention = rows.find((r) => r.startsWith('retention '))!
    expect(retention).toContain('41 * * * *')
    expect(retention).toContain('never run')
    expect(retention).toMatch(/\d{4}-\d\d-\d\dT\d\d:41:00\.000Z/)
  })

  test('run executes a job now; list then shows when and how it went', () => {
    const ran = omnigate('jobs', 'run', 'retention')
    expect(ran.stderr).toBe('')
    expect(ran.stdout).toBe('job retention finished\n')
    const listed = omnigate('jobs', 'list', '--json')
    const retention = (JSON.parse(listed.stdout) as { name: string; status: string; last_run: string | null }[]).find((j) => j.name === 'retention')!
    expect(retention.status).toBe('ok')
    expect(Date.now() - Date.parse(retention.last_run!)).toBeLessThan(60_000)
  })

  test('run on a database another process holds past busy_timeout: one line saying so, exit 1', () => {
    const busyConfig = join(cli.path, 'busy.toml')
    writeFileSync(busyConfig, `[database]\nurl = "file:${join(cli.path, 'og.db')}"\nbusy_timeout_ms = 50\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
    const other = new Database(join(cli.path, 'og.db'))
    other.run('BEGIN IMMEDIATE')
    let busy: ReturnType<typeof omnigate>
    try {
      busy = omnigate('--config', busyConfig, 'jobs', 'run', 'retention')
    } finally {
      other.run('ROLLBACK')
      other.close()
    }
    expect(busy.code).toBe(1)
    expect(busy.stderr.trim().split('\n')).toEqual(['error: the database is busy: another process held its write lock for longer than database.busy_timeout_ms, and this write was not made; run the command again'])
    expect(omnigate('jobs', 'run', 'retention').code).toBe(0)
  })

  test('run with an unknown name names the known jobs, exit 2', () => {
    const bad = omnigate('jobs', 'run', 'nope')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toStartWith('error: no job named "nope" (jobs: idempotency-keys-cleanup, pending-statuses-cleanup, retention')
  })
})
