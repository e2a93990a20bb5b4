/**
 * Reference figures measured in the same run, so the gateway's figures read as ratios:
 *
 * - `sqlite_rows_per_s` (the storage ceiling): raw bun:sqlite inserts of the same row shape as an
 *   accepted message, into the project's real schema (the SQL of migrations/index.ts applied to a
 *   temp database), WAL, the same synchronous setting and foreign keys on, with one prepared
 *   INSERT per row and 100 rows per transaction (also 1,000, for comparison).
 * - `http_rps` (the HTTP ceiling): a hello-world `Bun.serve` (scripts/bench/hello.ts, its own
 *   process) under the same load generator, connections and request (method, headers, body,
 *   Idempotency-Key) as `ingest`.
 * - `floor_rps` (the send floor): scripts/bench/floor.ts, its own process, doing only the work a
 *   keyed single send cannot do without (parse, the real schema's validation, the request hash,
 *   the idempotency record and the message row in a group commit), under the same load as
 *   `ingest`. Its database must then hold exactly as many messages as it answered 202.
 */
import { join } from 'node:path'
import { ingestBody, ingestPath } from './ingest'
import {
  API_KEY,
  authHeaders,
  BENCH_DIR,
  type BenchOptions,
  firstLine,
  type LatencySummary,
  log,
  makeTempDir,
  median,
  openReadonly,
  round,
  runLoad,
  sampleUsage,
  scalar,
  spawnChild,
  stopChild,
  tail,
} from './lib'
import { type SchemaDatabase, schemaDatabase } from './schema-db'

export interface SqliteReference {
  rows_per_s: number
  rows_per_s_1000: number
  runs: number[]
  runs_1000: number[]
}

export interface HttpReference {
  rps: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  peak_rss_mb: number
  cpu_s: number
  runs: { rps: number; latency_ms: LatencySummary; status: Record<string, number> }[]
}

/** A temp database with the real schema and the namespace and channel a message row points to. */
function schemaDb(synchronous: 'NORMAL' | 'FULL'): SchemaDatabase {
  return schemaDatabase(join(makeTempDir('sqlite-ref'), 'ref.db'), synchronous)
}

/** Inserts message rows for `seconds`, `perTx` per transaction; rows/s. */
function insertRate(synchronous: 'NORMAL' | 'FULL', perTx: number, seconds: number): number {
  const { db, namespaceId, channelId, insertMessage } = schemaDb(synchronous)
  const content = { text: 'Benchmark message 1: your one-time code is 100001.' }
  const metadata = { bench: 'omnigate', n: '1' }
  let i = 0
  const row = (at: number): Record<string, string | number | null> => ({
    id: `msg_${Bun.randomUUIDv7().replaceAll('-', '')}`,
    namespace_id: namespaceId,
    channel_id: channelId,
    terminal_id: null,
    application_id: 'app_0190000000007000800000000000000',
    direction: 'outbound',
    status: 'queued',
    sender: null,
    recipient: `user${i++ % 1000}@example.com`,
    content: JSON.stringify(content),
    metadata: JSON.stringify(metadata),
    options: '{}',
    send_at: null,
    next_attempt_at: at,
    attempts: 0,
    lease_owner: null,
    lease_until: null,
    provider_message_id: null,
    error_code: null,
    error_message: null,
    created_at: at,
    updated_at: at,
  })
  const batch = db.transaction((at: number) => {
    for (let k = 0; k < perTx; k++) insertMessage(row(at))
  })
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  let rows = 0
  while (performance.now() < end) {
    batch(Date.now())
    rows += perTx
  }
  const rate = rows / ((performance.now() - t0) / 1000)
  db.close()
  return rate
}

export function sqliteReference(bench: BenchOptions, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): SqliteReference {
  const seconds = bench.quick ? 2 : 5
  const runs: number[] = []
  const runs1000: number[] = []
  for (let i = 0; i < bench.runs; i++) {
    runs.push(round(insertRate(synchronous, 100, seconds)))
    runs1000.push(round(insertRate(synchronous, 1000, bench.quick ? 1 : seconds)))
  }
  const result = { rows_per_s: round(median(runs)), rows_per_s_1000: round(median(runs1000)), runs, runs_1000: runs1000 }
  log(`reference: bun:sqlite ${result.rows_per_s} rows/s in 100-row transactions, ${result.rows_per_s_1000} in 1,000-row ones`)
  return result
}

/** The send floor: as `HttpReference`, plus what its database holds against its 202s. */
export interface FloorReference extends HttpReference {
  /** 202s the floor answered that its database does not hold (must be 0). */
  lost_messages: number
}

export function httpReference(bench: BenchOptions): Promise<HttpReference> {
  return serverReference(bench, 'hello-world Bun.serve', 'hello', () => ({ cmd: [process.execPath, join(BENCH_DIR, 'hello.ts')] }))
}

export async function floorReference(bench: BenchOptions): Promise<FloorReference> {
  let lost = 0
  const result = await serverReference(bench, 'send floor', 'floor', () => {
    const dbPath = join(makeTempDir('floor'), 'floor.db')
    return {
      cmd: [process.execPath, join(BENCH_DIR, 'floor.ts'), dbPath, 'NORMAL'],
      env: { OMNIGATE_BENCH_KEY: API_KEY },
      // After the floor has closed its database: it must hold every message it answered 202.
      check: (accepted: number) => {
        const db = openReadonly(dbPath)
        try {
          // More than the 202s counted is normal: requests in flight when the load stopped.
          const held = scalar(db, 'SELECT count(*) FROM messages')
          if (held < accepted) log(`reference: WARNING the send floor answered ${accepted} × 202 but holds ${held} messages`)
          lost += Math.max(0, accepted - held)
        } finally {
          db.close()
        }
      },
    }
  })
  return { ...result, lost_messages: lost }
}

/** A server in its own process under `ingest`'s load, `bench.runs` times; median req/s (202s only). */
async function serverReference(
  bench: BenchOptions,
  label: string,
  name: string,
  start: () => { cmd: string[]; env?: Record<string, string>; check?: (accepted: number) => void },
): Promise<HttpReference> {
  const runs: HttpReference['runs'] = []
  let peak = 0
  const cpu: number[] = []
  for (let i = 0; i < bench.runs; i++) {
    const { cmd, env, check } = start()
    const child = spawnChild(name, cmd, { pipeStdout: true, env })
    let accepted = 0
    try {
      const line = await firstLine(child.stdout!)
      let port: number
      try {
        port = Number(JSON.parse(line).port)
      } catch {
        throw new Error(`${label} did not start (it printed ${JSON.stringify(line)}):\n${tail(child.logPath)}`)
      }
      const sampler = sampleUsage(child.pid)
      const load = await runLoad({
        mode: 'closed',
        url: `http://127.0.0.1:${port}${ingestPath(1)}`,
        method: 'POST',
        headers: authHeaders,
        body: ingestBody(1),
        connections: bench.connections,
        durationMs: bench.durationS * 1000,
        warmupMs: bench.warmupS * 1000,
        idempotencyPrefix: bench.idempotencyKey ? `${name}-${i}-` : undefined,
      })
      const usage = sampler.stop()
      peak = Math.max(peak, usage.peakRssMb)
      cpu.push(usage.cpuS)
      accepted = load.total.status['202'] ?? 0
      runs.push({ rps: round(load.measured.ok_rps), latency_ms: load.measured.latency_ms, status: load.total.status })
      log(`reference: ${label} run ${i + 1}: ${round(load.measured.ok_rps)} req/s, p99 ${load.measured.latency_ms.p99.toFixed(2)} ms`)
    } finally {
      await stopChild(child, 2000)
    }
    check?.(accepted)
  }
  return {
    rps: round(median(runs.map((r) => r.rps))),
    p50_ms: round(median(runs.map((r) => r.latency_ms.p50)), 2),
    p95_ms: round(median(runs.map((r) => r.latency_ms.p95)), 2),
    p99_ms: round(median(runs.map((r) => r.latency_ms.p99)), 2),
    peak_rss_mb: round(peak, 1),
    cpu_s: round(median(cpu), 2),
    runs,
  }
}
