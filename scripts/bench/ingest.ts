/**
 * `ingest` (one message per request) and the shared closed-loop ingest run that `ingest-batch`
 * uses too: a fresh gateway, the load generator POSTing for warm-up + duration with a unique
 * Idempotency-Key on every request, then the server is stopped and its database read
 * (read-only) to check that it holds exactly as many messages as were acknowledged with 202.
 */
import {
  authHeaders,
  type BenchOptions,
  type LoadResult,
  log,
  median,
  messageInput,
  NAMESPACE,
  openReadonly,
  round,
  runLoad,
  sampleUsage,
  scalar,
  startGateway,
  type Usage,
  walMb,
} from './lib'

export interface IngestRun {
  msgs_per_s: number
  requests_per_s: number
  latency_ms: LoadResult['measured']['latency_ms']
  status: Record<string, number>
  errors: number
  /** 202 answers × messages per request, warm-up included. */
  accepted: number
  stored: number
  lost: number
  /** Rows beyond the acknowledged ones (requests that failed on the client side after the commit). */
  extra: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  loadgen_cpu_s: number
  startup_ms: number
  /** The WAL file at the end of the load, before the stop's checkpoint. */
  wal_mb: number
  exit_code: number | null
  first_errors: string[]
}

export interface IngestSummary {
  msgs_per_s: number
  requests_per_s: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  lost_messages: number
  runs: IngestRun[]
}

export interface IngestOptions {
  label: string
  /** Messages per request: 1 = POST /messages, more = POST /messages/batch. */
  perRequest: number
  engine: boolean
  runs: number
  durationS?: number
  /** The database's `synchronous` (NORMAL unless given). */
  synchronous?: 'NORMAL' | 'FULL'
}

/** The request body: one message, or `{messages: [...]}` with `perRequest` of them. */
export function ingestBody(perRequest: number): string {
  if (perRequest === 1) return JSON.stringify(messageInput('sandbox', 1))
  return JSON.stringify({ messages: Array.from({ length: perRequest }, (_, i) => messageInput('sandbox', i)) })
}

export function ingestPath(perRequest: number): string {
  return `/v1/namespaces/${NAMESPACE}/messages${perRequest === 1 ? '' : '/batch'}`
}

export async function ingestRun(bench: BenchOptions, opts: IngestOptions, index: number): Promise<IngestRun> {
  const gw = await startGateway(bench, { name: `${opts.label}-${index}`, engine: opts.engine, synchronous: opts.synchronous })
  let load: LoadResult
  let usage: Usage
  let exitCode: number | null
  let wal = 0
  try {
    const sampler = sampleUsage(gw.pid)
    load = await runLoad({
      mode: 'closed',
      url: `${gw.url}${ingestPath(opts.perRequest)}`,
      method: 'POST',
      headers: authHeaders,
      body: ingestBody(opts.perRequest),
      connections: bench.connections,
      durationMs: (opts.durationS ?? bench.durationS) * 1000,
      warmupMs: bench.warmupS * 1000,
      idempotencyPrefix: bench.idempotencyKey ? `${opts.label}-${index}-${Date.now()}-` : undefined,
    })
    usage = sampler.stop()
    wal = walMb(gw.dbPath)
  } finally {
    exitCode = await gw.stop()
  }
  const db = openReadonly(gw.dbPath)
  let stored: number
  try {
    stored = scalar(db, 'SELECT count(*) AS n FROM messages')
  } finally {
    db.close()
  }
  const accepted = (load.total.status['202'] ?? 0) * opts.perRequest
  const m = load.measured
  const okRequests = m.status['202'] ?? 0
  const run: IngestRun = {
    msgs_per_s: round((okRequests * opts.perRequest) / m.seconds),
    requests_per_s: round(okRequests / m.seconds),
    latency_ms: m.latency_ms,
    status: load.total.status,
    errors: load.total.errors,
    accepted,
    stored,
    lost: Math.max(0, accepted - stored),
    extra: Math.max(0, stored - accepted),
    peak_rss_mb: round(usage.peakRssMb, 1),
    cpu_s: round(usage.cpuS, 2),
    cpu_cores: round(usage.cores, 2),
    loadgen_cpu_s: round(load.loadgen_cpu_s, 2),
    startup_ms: round(gw.startupMs),
    wal_mb: round(wal, 1),
    exit_code: exitCode,
    first_errors: load.first_errors,
  }
  const non202 = Object.entries(load.total.status).filter(([s]) => s !== '202')
  log(
    `${opts.label} run ${index + 1}: ${run.msgs_per_s} msg/s (${run.requests_per_s} req/s), p99 ${m.latency_ms.p99.toFixed(1)} ms, ` +
      `${accepted} acknowledged, ${stored} stored${non202.length ? `, other answers ${JSON.stringify(Object.fromEntries(non202))}` : ''}`,
  )
  if (run.lost > 0) log(`${opts.label}: ${run.lost} ACKNOWLEDGED MESSAGES ARE MISSING FROM THE DATABASE`)
  if (load.first_errors.length) log(`${opts.label}: client errors: ${load.first_errors.join(' | ')}`)
  return run
}

export function summarizeIngest(runs: IngestRun[]): IngestSummary {
  return {
    msgs_per_s: round(median(runs.map((r) => r.msgs_per_s))),
    requests_per_s: round(median(runs.map((r) => r.requests_per_s))),
    p50_ms: round(median(runs.map((r) => r.latency_ms.p50)), 2),
    p95_ms: round(median(runs.map((r) => r.latency_ms.p95)), 2),
    p99_ms: round(median(runs.map((r) => r.latency_ms.p99)), 2),
    peak_rss_mb: round(Math.max(...runs.map((r) => r.peak_rss_mb)), 1),
    cpu_s: round(median(runs.map((r) => r.cpu_s)), 2),
    cpu_cores: round(median(runs.map((r) => r.cpu_cores)), 2),
    lost_messages: runs.reduce((sum, r) => sum + r.lost, 0),
    runs,
  }
}

export async function ingestScenario(bench: BenchOptions, opts: IngestOptions): Promise<IngestSummary> {
  const runs: IngestRun[] = []
  for (let i = 0; i < opts.runs; i++) runs.push(await ingestRun(bench, opts, i))
  return summarizeIngest(runs)
}

/** `ingest`: POST /messages, one message per request, engine off (the API path alone). */
export function ingest(bench: BenchOptions): Promise<IngestSummary> {
  return ingestScenario(bench, { label: 'ingest', perRequest: 1, engine: false, runs: bench.runs })
}

/** `ingest` once with `synchronous = FULL`: every group commit waits for the WAL's fsync. */
export function ingestFullSync(bench: BenchOptions): Promise<IngestSummary> {
  return ingestScenario(bench, { label: 'ingest-full', perRequest: 1, engine: false, runs: 1, synchronous: 'FULL' })
}

/** `ingest` with the engine on: the sandbox dispatcher drains what is accepted, on the same 2 cores. */
export function ingestEngineOn(bench: BenchOptions): Promise<IngestSummary> {
  return ingestScenario(bench, { label: 'ingest-engine-on', perRequest: 1, engine: true, runs: bench.quick ? 1 : bench.runs })
}
