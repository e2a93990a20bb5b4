/**
 * `omnigate stats` as an operator runs it: a real process on a config file, reading the rollups
 * of the same database, printing a table a person can read (or JSON with --json).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RollupBatch } from '../../src/domain/analytics/rollups'
import { generateMasterKey } from '../../src/lib/secrets'
import { openBunSqliteStore } from '../../src/store/bun-sqlite'
import { tempDir } from '../helpers/stores'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
const masterKey = generateMasterKey()
let dir: ReturnType<typeof tempDir>
let configPath: string

function omnigate(...args: string[]) {
  const proc = Bun.spawnSync([process.execPath, MAIN, '--config', configPath, ...args], { cwd: dir.path, env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: masterKey } })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}

beforeAll(async () => {
  dir = tempDir()
  configPath = join(dir.path, 'omnigate.toml')
  writeFileSync(configPath, `[database]\nurl = "file:${join(dir.path, 'og.db')}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  expect(omnigate('namespace', 'create', 'acme').code).toBe(0)
  expect(omnigate('namespace', 'create', 'umbrella').code).toBe(0)
  expect(omnigate('channel', 'add', 'sms', '-n', 'acme', '--type', 'sandbox').code).toBe(0)
  expect(omnigate('channel', 'add', 'mail', '-n', 'acme', '--type', 'sandbox').code).toBe(0)
  const channels = JSON.parse(omnigate('--json', 'channel', 'list', '-n', 'acme').stdout) as { id: string; name: string; namespace_id?: string }[]
  const id = (name: string) => channels.find((c) => c.name === name)!.id
  const store = openBunSqliteStore(join(dir.path, 'og.db'), { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
  const [ns] = (await store.read.all<{ id: string }>(`SELECT id FROM namespaces WHERE slug = 'acme'`)) as { id: string }[]
  const at = Date.now() - 60_000
  await store.tx(async (tx) => {
    const batch = new RollupBatch()
    const on = (channel: string) => ({ namespaceId: ns!.id, channelId: id(channel), applicationId: null, direction: 'outbound' })
    batch.count(on('sms'), 'queued', at, 10)
    batch.count(on('sms'), 'sent', at, 8)
    batch.count(on('sms'), 'delivered', at, 6)
    batch.count(on('sms'), 'failed', at, 2)
    batch.count(on('mail'), 'queued', at, 4)
    batch.count(on('mail'), 'sent', at, 4)
    batch.failure(ns!.id, id('sms'), 'invalid_number', at)
    batch.failure(ns!.id, id('sms'), 'invalid_number', at)
    batch.latency(ns!.id, id('sms'), 'accept_to_sent', 120, at)
    await batch.flush(tx)
  })
  await store.close()
})
afterAll(() => dir.cleanup())

test('totals, rates, latencies and top failures in readable tables', () => {
  const out = omnigate('stats', '-n', 'acme')
  expect(out.stderr).toBe('')
  expect(out.code).toBe(0)
  expect(out.stdout).toStartWith('Messages in namespace acme, ')
  expect(out.stdout).toMatch(/MESSAGES\s+QUEUED\s+SENT\s+DELIVERED\s+FAILED\s+DELIVERED_OF_SENT\n/)
  expect(out.stdout).toMatch(/all\s+14\s+12\s+6\s+2\s+50\.0 %\n/)
  expect(out.stdout).toContain('delivery rate  50.0 %')
  expect(out.stdout).toContain('failure rate   14.3 %')
  expect(out.stdout).toMatch(/accept → sent\s+p50 \d+ ms/)
  expect(out.stdout).toMatch(/CODE\s+COUNT\ninvalid_number\s+2\n/)
})

test('--by channel: one row per channel', () => {
  const out = omnigate('stats', '-n', 'acme', '--by', 'channel', '--since', '2h')
  expect(out.code).toBe(0)
  expect(out.stdout).toMatch(/CHANNEL\s+QUEUED\s+SENT\s+DELIVERED\s+FAILED/)
  expect(out.stdout).toMatch(/mail\s+4\s+4\s+0\s+0\s+0\.0 %\n/)
  expect(out.stdout).toMatch(/sms\s+10\s+8\s+6\s+2\s+75\.0 %\n/)
})

test('without -n: every namespace; --json prints the whole report', () => {
  const out = omnigate('--json', 'stats', '--by', 'namespace')
  expect(out.code).toBe(0)
  const report = JSON.parse(out.stdout) as { totals: Record<string, number>; buckets: { group: string }[] }
  expect(report.totals.queued).toBe(14)
  expect([...new Set(report.buckets.map((b) => b.group))]).toEqual(['acme'])
})

test('bad options are one clear line each', () => {
  const by = omnigate('stats', '--by', 'colour')
  expect(by.code).toBe(2)
  expect(by.stderr).toBe('error: --by must be one of channel, channel_type, application, direction, namespace\n')
  const since = omnigate('stats', '--since', 'last week')
  expect(since.code).toBe(2)
  expect(since.stderr).toStartWith('error: --since: ')
  const tz = omnigate('stats', '--tz', 'Mars/Base')
  expect(tz.code).toBe(1)
  expect(tz.stderr).toStartWith('error: tz: ')
})
