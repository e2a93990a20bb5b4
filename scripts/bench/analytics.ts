/**
 * `analytics` (issue #8): a temp database holding 1 million messages' rollup history over 30
 * days, then the 30-day hourly query grouped by channel, run 200 times in-process through the
 * same domain function the API calls; reports p50/p95/p99 ms. `bun run bench` runs it in its
 * own process (`analytics()` below); alone it prints the JSON:
 *
 *   bun scripts/bench/analytics.ts [--quick] [--messages N] [--keep]
 *
 * The history is written through the rollup writer the hot path uses (`RollupBatch`), with the
 * counts of each hour, channel and application drawn at once (the sum of their messages'
 * status changes) rather than message by message: the rows, and so the query, are the same as
 * a gateway that carried those messages would hold — hour rows for 30 days, latency histograms
 * and failure reasons per hour; minute rows only where the prune job keeps them (7 days).
 * The rollup rows depend on hours × channels × applications × statuses, hardly on the message
 * count, so the history is built in about 3 s.
 *
 * `--quick`: 100 queries instead of 200, over the same 1-million-message history (building it
 * is a few seconds, well inside the quick budget, and the figure stays comparable with the
 * target); `--messages N` builds a smaller or larger history.
 */
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { sql } from 'drizzle-orm'
import { configSchema } from '../../src/config'
import { messageAnalytics } from '../../src/domain/analytics/query'
import { COUNTED_STATUSES, type CountedStatus, HOUR_MS, LATENCY_BOUNDS_MS, MINUTE_ROLLUP_RETENTION_MS, RollupBatch } from '../../src/domain/analytics/rollups'
import { createChannel } from '../../src/domain/channels'
import { createApplication } from '../../src/domain/identity/applications'
import { createNamespace } from '../../src/domain/namespaces'
import { openGateway } from '../../src/gateway'
import { silentLogger } from '../../src/lib/log'
import { generateMasterKey } from '../../src/lib/secrets'
import { type BenchOptions, spawnChild, tail } from './lib'

/** The figures `bun run bench` keeps (bench-results.json `analytics`). */
export interface AnalyticsSummary {
  scenario: string
  quick: boolean
  /** What history the queries ran over, as the table shows it. */
  history: string
  messages: number
  days: number
  queries: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  max_ms: number
  cpu_p50_ms: number
  target_p99_ms: number
  meets_target: boolean
  [more: string]: unknown
}

/** Runs this file in its own process (the machine's other scenarios are stopped by then) and reads its JSON. */
export async function analytics(bench: BenchOptions): Promise<AnalyticsSummary> {
  const args = [process.execPath, join(import.meta.dir, 'analytics.ts'), ...(bench.quick ? ['--quick'] : []), ...(bench.keep ? ['--keep'] : [])]
  const child = spawnChild('analytics', args, { pipeStdout: true })
  const out = await new Response(child.stdout!).text()
  const code = await child.proc.exited
  if (code !== 0) throw new Error(`the analytics scenario exited with ${code}:\n${tail(child.logPath)}`)
  return JSON.parse(out) as AnalyticsSummary
}

const MESSAGES = 1_000_000
const DAYS = 30
const WARMUP = 10
const CHANNELS = ['sms', 'whatsapp', 'email', 'push', 'telegram', 'webhook']
const APPLICATIONS = ['checkout', 'crm', 'alerts']
const INBOUND_SHARE = 0.1
/** Of outbound messages: what share reached each status (a retry is a failed attempt tried again). */
const OUTCOMES: Partial<Record<CountedStatus, number>> = { queued: 1, sent: 0.97, delivered: 0.9, read: 0.2, failed: 0.03, retried: 0.05 }
const ERROR_CODES = ['invalid_number', 'unreachable', 'mailbox_full', 'blocked', 'rate_limited', 'provider_5xx']

/** A small deterministic generator (mulberry32), so every run builds the same history. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
const round = (x: number) => Math.round(x * 100) / 100

async function main(): Promise<void> {
  const { values: opts } = parseArgs({
    args: Bun.argv.slice(2),
    options: { quick: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false }, messages: { type: 'string' } },
    strict: true,
  })
  const quick = opts.quick!
  const target = opts.messages === undefined ? MESSAGES : Number(opts.messages)
  if (!(Number.isInteger(target) && target > 0)) {
    console.error('--messages must be a positive whole number')
    process.exit(2)
  }
  const queries = quick ? 100 : 200
  const dir = await mkdtemp(join(tmpdir(), 'omnigate-bench-analytics-'))
  try {
    const config = configSchema.parse({
      database: { url: `file:${join(dir, 'omnigate.db')}` },
      security: { master_key: generateMasterKey(), allow_private_network: true },
    })
    const deps = await openGateway({ config, demo: false, log: silentLogger, migrate: true })
    const end = Math.floor(Date.now() / HOUR_MS) * HOUR_MS
    const start = end - DAYS * 24 * HOUR_MS
    deps.now = () => end

    const ns = await createNamespace(deps, { slug: 'bench' })
    const channelIds = []
    for (const name of CHANNELS) channelIds.push((await createChannel(deps, ns.id, { name, type: 'sandbox', config: {} })).id)
    const appIds = []
    for (const name of APPLICATIONS) appIds.push((await createApplication(deps, ns.id, { name })).id)

    const rand = random(8)
    const hours = DAYS * 24
    const perHour = target / hours
    const built = performance.now()
    let messages = 0
    for (let h = 0; h < hours; h++) {
      const hourStart = start + h * HOUR_MS
      // Busier by day than by night.
      const load = perHour * (1 + 0.6 * Math.sin((2 * Math.PI * ((h % 24) - 6)) / 24))
      const batch = new RollupBatch()
      const count = (m: Parameters<RollupBatch['count']>[0], status: CountedStatus, n: number, at: number) => {
        if (n > 0) batch.count(m, status, at, n)
      }
      for (const [c, channelId] of channelIds.entries()) {
        const inbound = Math.round(((load * INBOUND_SHARE) / channelIds.length) * (0.5 + rand()))
        count({ namespaceId: ns.id, channelId, applicationId: null, direction: 'inbound' }, 'received', inbound, hourStart + Math.floor(rand() * HOUR_MS))
        messages += inbound
        for (const applicationId of appIds) {
          const outbound = Math.round(((load * (1 - INBOUND_SHARE)) / (channelIds.length * appIds.length)) * (0.5 + rand()))
          messages += outbound
          const m = { namespaceId: ns.id, channelId, applicationId, direction: 'outbound' }
          for (const [status, share] of Object.entries(OUTCOMES) as [CountedStatus, number][]) {
            count(m, status, Math.round(outbound * share * (0.8 + 0.4 * rand())), hourStart + Math.floor(rand() * HOUR_MS))
          }
          const at = hourStart + Math.floor(rand() * HOUR_MS)
          for (let i = 0; i < Math.round(outbound * 0.03); i++) batch.failure(ns.id, channelId, ERROR_CODES[(c + i) % ERROR_CODES.length]!, at)
          // A latency sample per sent message: 50 ms to a few seconds to send, seconds to minutes to deliver.
          for (let i = 0; i < Math.round(outbound * 0.97); i++) {
            batch.latency(ns.id, channelId, 'accept_to_sent', 50 * Math.exp(4 * rand()), at)
            batch.latency(ns.id, channelId, 'sent_to_delivered', 500 * Math.exp(6 * rand()), at)
          }
        }
      }
      await deps.store.tx(async (tx) => {
        await batch.flush(tx)
        // Minute rows older than 7 days are gone, as the `analytics-prune` job would have done.
        if (hourStart < end - MINUTE_ROLLUP_RETENTION_MS) {
          await tx.run(sql`DELETE FROM message_rollups WHERE namespace_id = ${ns.id} AND granularity = 'minute' AND bucket_start >= ${hourStart} AND bucket_start < ${hourStart + HOUR_MS}`)
        }
      })
    }
    const buildS = (performance.now() - built) / 1000
    await deps.store.exec('ANALYZE')
    const rows = await deps.store.read.all<{ g: string; n: number }>(sql`SELECT granularity AS g, count(*) AS n FROM message_rollups GROUP BY granularity`)
    const [latencyRows] = await deps.store.read.all<{ n: number }>(sql`SELECT count(*) AS n FROM latency_rollups`)

    const query = { from: new Date(start).toISOString(), to: new Date(end).toISOString(), interval: 'hour' as const, group_by: 'channel' as const }
    let report = await messageAnalytics(deps, { namespaceId: ns.id }, query)
    for (let i = 0; i < WARMUP; i++) report = await messageAnalytics(deps, { namespaceId: ns.id }, query)
    const times: number[] = []
    const cpu: number[] = []
    for (let i = 0; i < queries; i++) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await messageAnalytics(deps, { namespaceId: ns.id }, query)
      times.push(performance.now() - t0)
      const c = process.cpuUsage(c0)
      cpu.push((c.user + c.system) / 1000)
    }
    times.sort((a, b) => a - b)
    cpu.sort((a, b) => a - b)
    // Two more shapes for context: a time zone with DST, and the whole range in days.
    const other = async (extra: Record<string, string>) => {
      const t: number[] = []
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now()
        await messageAnalytics(deps, { namespaceId: ns.id }, { ...query, ...extra } as never)
        t.push(performance.now() - t0)
      }
      return round(t.sort((a, b) => a - b)[10]!)
    }
    const result = {
      scenario: 'analytics: 30-day hourly query grouped by channel',
      quick,
      history: `${messages.toLocaleString('en-US')} messages over ${DAYS} days${quick && target === MESSAGES ? ' (quick: the same history, fewer queries)' : ''}`,
      load_average: (await Bun.file('/proc/loadavg').text().catch(() => '')).split(' ').slice(0, 3).join(' '),
      messages,
      days: DAYS,
      channels: CHANNELS.length,
      applications: APPLICATIONS.length,
      rollup_rows: Object.fromEntries(rows.map((r) => [r.g, r.n])),
      latency_rows: latencyRows!.n,
      build_s: round(buildS),
      queries,
      buckets_returned: report.buckets.length,
      totals: Object.fromEntries(COUNTED_STATUSES.filter((s) => report.totals[s] > 0).map((s) => [s, report.totals[s]])),
      p50_ms: round(percentile(times, 0.5)),
      p95_ms: round(percentile(times, 0.95)),
      p99_ms: round(percentile(times, 0.99)),
      max_ms: round(times.at(-1)!),
      cpu_p50_ms: round(percentile(cpu, 0.5)),
      target_p99_ms: 50,
      meets_target: percentile(times, 0.99) <= 50,
      median_ms_new_york_hourly: await other({ tz: 'America/New_York' }),
      median_ms_daily_ungrouped: await other({ interval: 'day', group_by: undefined as never }),
      latency_buckets: LATENCY_BOUNDS_MS.length,
    }
    console.log(JSON.stringify(result, null, 2))
    await deps.store.close()
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true })
    else console.error(`kept ${dir}`)
  }
}

if (import.meta.main) await main()
