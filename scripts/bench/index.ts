/**
 * `bun run bench`: measures the gateway as a user runs it — the compiled binary, a file
 * database, loopback HTTP — and writes a table on stdout and bench-results.json.
 *
 *   bun run bench [--quick] [--only a,b] [--skip a,b] [--runs N] [--duration S] [--warmup S]
 *                 [--connections N] [--build | --no-build] [--source] [--cpu-prof[=DIR]]
 *                 [--server-env KEY=VALUE]... [--without-idempotency-key] [--out FILE] [--keep] [--verbose]
 *                 [--loadgen wrk|bun] [--binary PATH]
 *
 * Scenarios: reference, ingest, ingest-batch, dispatch, webhooks, idle (docs/performance.md),
 * analytics (docs/operations/analytics.md: the 30-day hourly query over 1 million messages' rollups).
 * --quick: one run each, 5 s of load, 10k messages to dispatch, 60 s idle; under 2 minutes.
 * Full: the median of 3 runs, 15 s of load, 100k messages, 5 min idle.
 * --source runs `bun src/main.ts serve` instead of dist/omnigate, --binary PATH another build (no
 * build then; scripts/bench/compare.ts uses it to run two builds in turn). --cpu-prof[=DIR] profiles every
 * gateway process (`--cpu-prof --cpu-prof-md`; the binary gets them through BUN_OPTIONS) and
 * leaves a .cpuprofile and a .md summary per process in DIR (profiled figures are slower).
 * Closed-loop load comes from wrk when it is on PATH (scripts/bench/wrk.ts), else from the Bun
 * generator (loadgen.ts); --loadgen forces one. The open-loop hand-off run is always Bun's.
 *
 * Every process started (gateways, sinks, the load generator) runs in its own process group
 * and is killed at the end, also on failure or Ctrl-C.
 */
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { dispatch, type DispatchSummary } from './dispatch'
import { startIdle, type IdleHandle, type IdleResult } from './idle'
import { ingest, ingestEngineOn, ingestFullSync, type IngestSummary } from './ingest'
import { ingestBatch } from './ingest-batch'
import {
  allStartupTimes,
  BINARY,
  type BenchOptions,
  cleanupAll,
  ensureBinary,
  keepTempDirs,
  lingeringExits,
  log,
  median,
  ROOT,
  round,
  runningChildren,
  type Scenario,
  SCENARIOS,
} from './lib'
import { type FloorReference, floorReference, httpReference, type HttpReference, sqliteReference, type SqliteReference } from './reference'
import { webhooks, type WebhooksSummary } from './webhooks'
import { chooseLoadGenerator, type LoadGenerators, WRK_THREADS } from './wrk'
import { analytics, type AnalyticsSummary } from './analytics'


const { values: args } = parseArgs({
  // A bare --cpu-prof means "profile into a temp directory".
  args: Bun.argv.slice(2).map((a) => (a === '--cpu-prof' ? '--cpu-prof=' : a)),
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    build: { type: 'boolean' },
    'no-build': { type: 'boolean' },
    source: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'server-env': { type: 'string', multiple: true },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'without-idempotency-key': { type: 'boolean', default: false },
    loadgen: { type: 'string' },
    binary: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
  strict: true,
})

if (args.help) {
  console.log(readFileSync(import.meta.path, 'utf8').split('*/')[0]!.replace(/^\/\*\*\n?/, '').replace(/^ \* ?/gm, ''))
  process.exit(0)
}

function parseList(value: string | undefined): Scenario[] | null {
  if (value === undefined) return null
  const list = value.split(',').map((s) => s.trim()).filter(Boolean)
  for (const s of list) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      console.error(`unknown scenario "${s}"; scenarios: ${SCENARIOS.join(', ')}`)
      process.exit(2)
    }
  }
  return list as Scenario[]
}

const quick = args.quick!
const only = parseList(args.only)
const skip = parseList(args.skip) ?? []
const selected = new Set<Scenario>((only ?? [...SCENARIOS]).filter((s) => !skip.includes(s)))
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v))
// Not a bench temp dir: the profiles stay after the run.
const cpuProf = args['cpu-prof'] === undefined ? null : resolve(args['cpu-prof'] || mkdtempSync(join(tmpdir(), 'omnigate-cpu-prof-')))
if (cpuProf) mkdirSync(cpuProf, { recursive: true })
const serverEnv = Object.fromEntries(
  (args['server-env'] ?? []).map((kv) => {
    const i = kv.indexOf('=')
    if (i < 1) {
      console.error(`--server-env wants KEY=VALUE, got "${kv}"`)
      process.exit(2)
    }
    return [kv.slice(0, i), kv.slice(i + 1)]
  }),
)

let binary: string | undefined
if (args.binary !== undefined) {
  binary = resolve(args.binary)
  if (args.source || args.build) {
    console.error('--binary measures a given build: it goes with neither --source nor --build')
    process.exit(2)
  }
  if (!existsSync(binary) || !statSync(binary).isFile()) {
    console.error(`--binary: ${binary} is not a file`)
    process.exit(2)
  }
}

const bench: BenchOptions = {
  quick,
  connections: num(args.connections, 64),
  durationS: num(args.duration, quick ? 5 : 15),
  warmupS: num(args.warmup, quick ? 1 : 2),
  runs: num(args.runs, quick ? 1 : 3),
  source: args.source!,
  cpuProfDir: cpuProf,
  serverEnv,
  keep: args.keep!,
  verbose: args.verbose!,
  idempotencyKey: !args['without-idempotency-key'],
  binary,
}
keepTempDirs(bench.keep)
if (args.loadgen !== undefined && args.loadgen !== 'wrk' && args.loadgen !== 'bun') {
  console.error(`--loadgen wants wrk or bun, got "${args.loadgen}"`)
  process.exit(2)
}
let loadGenerators: LoadGenerators
try {
  loadGenerators = chooseLoadGenerator(args.loadgen ?? 'auto')
} catch (error) {
  console.error((error as Error).message)
  process.exit(2)
}
const outPath = resolve(ROOT, args.out ?? 'bench-results.json')

// ---------------------------------------------------------------------------------------------
// Cleanup on every way out
// ---------------------------------------------------------------------------------------------

let cleaning: Promise<void> | null = null
const cleanup = () => (cleaning ??= cleanupAll())
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping every process started`)
    void cleanup().then(() => process.exit(130))
  })
}

// ---------------------------------------------------------------------------------------------
// Machine and build information
// ---------------------------------------------------------------------------------------------

function which(cmd: string): string | null {
  const res = Bun.spawnSync(['sh', '-c', `command -v ${cmd}`], { stdout: 'pipe', stderr: 'ignore' })
  const out = res.stdout.toString().trim()
  return res.exitCode === 0 && out ? out : null
}

function machineInfo() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  return {
    cpu_model: model,
    cores: navigator.hardwareConcurrency ?? cpus().length,
    bun_version: Bun.version,
    kernel: release(),
    memory_mb: Math.round(totalmem() / 1024 / 1024),
    free_memory_mb: Math.round(freemem() / 1024 / 1024),
    loadavg_start: loadavg().map((x) => round(x, 2)),
    loadavg_end: [] as number[],
  }
}

function git(argv: string[]): string {
  const res = Bun.spawnSync(['git', ...argv], { cwd: ROOT, stdout: 'pipe', stderr: 'ignore' })
  return res.stdout.toString().trim()
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const wrk = which('wrk')
const oha = which('oha')
const startedAt = performance.now()
const results: Record<string, unknown> = {
  generated_at: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  load_generator: loadGenerators.description,
  available_generators: { wrk, oha },
  machine: machineInfo(),
  omnigate: {} as Record<string, unknown>,
  settings: {
    connections: bench.connections,
    duration_s: bench.durationS,
    warmup_s: bench.warmupS,
    runs: bench.runs,
    server: `${bench.source ? 'bun src/main.ts serve' : 'dist/omnigate serve'}${cpuProf ? ' under --cpu-prof' : ''}`,
    server_env: serverEnv,
    synchronous: 'NORMAL',
    idempotency_key: bench.idempotencyKey ? 'unique per ingest request' : 'none',
    limits: 'namespace_requests_per_second = 0 (rate limit off); everything else default',
    load_generator: {
      closed_loop: loadGenerators.closed,
      wrk_version: loadGenerators.wrk?.version ?? null,
      wrk_threads: loadGenerators.closed === 'wrk' ? WRK_THREADS : null,
      wrk_threads_why: loadGenerators.closed === 'wrk' ? 'one per core of the 2-core machine; the server runs on the same cores' : null,
      open_loop: 'bun-fetch (the dispatch hand-off run records message ids)',
      chosen_by: loadGenerators.choice === 'auto' ? 'auto (wrk when on PATH)' : `--loadgen ${loadGenerators.choice}`,
    },
  },
}
const errors: Record<string, string> = {}
let ingestResult: IngestSummary | undefined
let ingestOn: IngestSummary | undefined
let ingestFull: IngestSummary | undefined
let batchResult: IngestSummary | undefined
let dispatchResult: DispatchSummary | undefined
let dispatchFull: DispatchSummary | undefined
let webhooksResult: WebhooksSummary | undefined
let idleResult: IdleResult | undefined
let sqliteRef: SqliteReference | undefined
let httpRef: HttpReference | undefined
let floorRef: FloorReference | undefined
let analyticsResult: AnalyticsSummary | undefined

async function step(name: string, fn: () => Promise<void> | void): Promise<void> {
  const t0 = performance.now()
  log(`── ${name}`)
  try {
    await fn()
  } catch (error) {
    errors[name] = (error as Error)?.stack ?? String(error)
    log(`${name} FAILED: ${(error as Error)?.message ?? error}`)
  }
  if (bench.verbose) log(`${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

let exitCode = 0
try {
  log(
    `omnigate benchmark (${quick ? 'quick' : 'full'}): ${[...selected].join(', ')}; load generator: ${loadGenerators.description} ` +
      `(wrk: ${wrk ?? 'not installed'}, oha: ${oha ?? 'not installed'})`,
  )
  const load = loadavg()[0]!
  if (load > 0.5) log(`load average is ${load.toFixed(2)}: the machine is busy, figures will be skewed`)

  if (bench.binary) {
    const version = Bun.spawnSync([bench.binary, '--version'], { stdout: 'pipe' }).stdout.toString().trim()
    // Another build: what it was built from is its maker's to say (compare.ts records the revision).
    results.omnigate = { version, binary: bench.binary, built_now: false, git_commit: null, git_dirty: null }
  } else {
    if (!bench.source) {
      const build = ensureBinary(args.build ? true : args['no-build'] ? 'never' : false)
      const version = Bun.spawnSync([BINARY, '--version'], { stdout: 'pipe' }).stdout.toString().trim()
      results.omnigate = { version, binary: 'dist/omnigate', built_now: build.built, build_ms: round(build.ms) }
    } else {
      results.omnigate = { version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, binary: null }
    }
    Object.assign(results.omnigate as object, {
      git_commit: git(['rev-parse', '--short', 'HEAD']),
      git_dirty: git(['status', '--porcelain', '--', 'src', 'migrations']) !== '',
    })
  }

  let idle: IdleHandle | null = null
  if (selected.has('idle')) await step('idle (start)', async () => void (idle = await startIdle(bench)))
  if (selected.has('reference')) {
    await step('reference: bun:sqlite', () => void (sqliteRef = sqliteReference(bench)))
    await step('reference: hello-world Bun.serve', async () => void (httpRef = await httpReference(bench)))
    await step('reference: send floor', async () => void (floorRef = await floorReference(bench)))
  }
  if (selected.has('ingest')) {
    await step('ingest', async () => void (ingestResult = await ingest(bench)))
    await step('ingest (engine on)', async () => void (ingestOn = await ingestEngineOn(bench)))
    await step('ingest (synchronous = FULL)', async () => void (ingestFull = await ingestFullSync(bench)))
  }
  if (selected.has('ingest-batch')) await step('ingest-batch', async () => void (batchResult = await ingestBatch(bench)))
  if (selected.has('dispatch')) {
    await step('dispatch', async () => void (dispatchResult = await dispatch(bench, 'NORMAL', bench.runs)))
    await step('dispatch (synchronous = FULL)', async () => void (dispatchFull = await dispatch(bench, 'FULL', 1)))
  }
  if (selected.has('webhooks')) await step('webhooks', async () => void (webhooksResult = await webhooks(bench)))
  if (idle) await step('idle (finish)', async () => void (idleResult = await idle!.finish()))
  // Last, alone on the machine: an in-process query benchmark in its own process.
  if (selected.has('analytics')) await step('analytics', async () => void (analyticsResult = await analytics(bench)))
} catch (error) {
  errors.bench = (error as Error)?.stack ?? String(error)
  log(`benchmark FAILED: ${(error as Error)?.message ?? error}`)
} finally {
  await cleanup()
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/**
 * The throughput figures scaled to the speed the issue's targets were set at (hello-world
 * `Bun.serve` ~112k req/s on its 2-core machine), by this run's own hello-world: this machine's
 * speed drifts by ±10–20 % from hour to hour. An estimate that assumes every scenario scales
 * with the HTTP ceiling (all are CPU-bound on the same cores); the targets are checked against
 * the measured figures, not these.
 */
const REFERENCE_HELLO_RPS = 112_000
function atReferenceSpeed() {
  if (!httpRef?.rps) return null
  const factor = REFERENCE_HELLO_RPS / httpRef.rps
  const scale = (v: number | undefined) => (v === undefined ? null : round(v * factor))
  return {
    hello_world_rps: REFERENCE_HELLO_RPS,
    factor: round(factor, 3),
    ingest: scale(ingestResult?.msgs_per_s),
    ingest_batch: scale(batchResult?.msgs_per_s),
    dispatch: scale(dispatchResult?.msgs_per_s),
    webhooks: scale(webhooksResult?.deliveries_per_s),
    send_floor: scale(floorRef?.rps),
  }
}

const lost = [ingestResult, ingestOn, ingestFull, batchResult].reduce((sum, r) => sum + (r?.lost_messages ?? 0), 0)
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? round(a / b, 3) : null)
;(results.machine as { loadavg_end: number[] }).loadavg_end = loadavg().map((x) => round(x, 2))
Object.assign(results, {
  ingest: ingestResult && { ...ingestResult, engine: 'off (API only)', synchronous: 'NORMAL', engine_on: ingestOn ?? null, full_sync: ingestFull ?? null },
  ingest_batch: batchResult && { ...batchResult, messages_per_request: 100 },
  dispatch: dispatchResult && { ...dispatchResult, synchronous: 'NORMAL', full_sync: dispatchFull ?? null },
  webhooks: webhooksResult,
  idle: idleResult,
  analytics: analyticsResult,
  reference: {
    http_rps: httpRef?.rps,
    floor_rps: floorRef?.rps,
    sqlite_rows_per_s: sqliteRef?.rows_per_s,
    sqlite_rows_per_s_1000: sqliteRef?.rows_per_s_1000,
    http: httpRef,
    floor: floorRef,
    sqlite: sqliteRef,
  },
  at_reference_speed: atReferenceSpeed(),
  ratios: {
    ingest_vs_http: ratio(ingestResult?.msgs_per_s, httpRef?.rps),
    ingest_vs_floor: ratio(ingestResult?.msgs_per_s, floorRef?.rps),
    ingest_batch_vs_sqlite: ratio(batchResult?.msgs_per_s, sqliteRef?.rows_per_s),
  },
  lost_messages: lost,
  startup_ms_all: allStartupTimes().map((t) => round(t)),
  // Gateways still running > 1 s after logging `stopped` at a graceful stop (then killed).
  lingering_exits: lingeringExits,
  startup_ms_median_all: round(median(allStartupTimes())),
  elapsed_s: round((performance.now() - startedAt) / 1000, 1),
  errors,
})

type Check = { name: string; value: number | undefined | null; ok: boolean | null; target: string }
const check = (name: string, value: number | undefined | null, target: string, ok: (v: number) => boolean): Check => ({
  name,
  value,
  target,
  ok: value === undefined || value === null || !Number.isFinite(value) ? null : ok(value),
})
const checks: Check[] = [
  check('ingest msg/s', ingestResult?.msgs_per_s, '≥ 25,000', (v) => v >= 25_000),
  check('ingest / hello-world', ratio(ingestResult?.msgs_per_s, httpRef?.rps), '≥ 0.25', (v) => v >= 0.25),
  check('ingest-batch msg/s', batchResult?.msgs_per_s, '≥ 60,000', (v) => v >= 60_000),
  check('ingest-batch / raw sqlite', ratio(batchResult?.msgs_per_s, sqliteRef?.rows_per_s), '≥ 0.40', (v) => v >= 0.4),
  check('dispatch msg/s', dispatchResult?.msgs_per_s, '≥ 10,000', (v) => v >= 10_000),
  check('dispatch p99 ms at 1k/s', dispatchResult?.p99_ms, '≤ 50', (v) => v <= 50),
  check('webhooks deliveries/s', webhooksResult?.deliveries_per_s, '≥ 10,000', (v) => v >= 10_000),
  check('idle RSS MiB', idleResult?.rss_mb, '≤ 64', (v) => v <= 64),
  check('idle growth MiB', idleResult?.rss_growth_mb, '≈ 0 (≤ 2)', (v) => v <= 2),
  check('start-up ms', idleResult?.startup_ms, '≤ 200', (v) => v <= 200),
  check('lost messages', ingestResult || ingestOn || ingestFull || batchResult ? lost : undefined, '0', (v) => v === 0),
  check('analytics 30-day p99 ms', analyticsResult?.p99_ms, '≤ 50', (v) => v <= 50),
]
results.targets = Object.fromEntries(checks.map((c) => [c.name, { value: c.value ?? null, target: c.target, met: c.ok }]))

writeFileSync(outPath, `${JSON.stringify(results, null, 2)}\n`)

// The table.
const fmt = (v: number | undefined | null, digits = 0) =>
  v === undefined || v === null || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const rows: string[][] = [['scenario', 'throughput', 'p50 ms', 'p95 ms', 'p99 ms', 'peak RSS MiB', 'server CPU s (cores)', 'notes']]
const cpuCell = (s?: { cpu_s: number; cpu_cores: number }) => (s ? `${fmt(s.cpu_s, 1)} (${fmt(s.cpu_cores, 2)})` : '–')
if (ingestResult) {
  rows.push(['ingest', `${fmt(ingestResult.msgs_per_s)} msg/s`, fmt(ingestResult.p50_ms, 2), fmt(ingestResult.p95_ms, 2), fmt(ingestResult.p99_ms, 2), fmt(ingestResult.peak_rss_mb, 1), cpuCell(ingestResult), `${bench.connections} conns, engine off, lost ${ingestResult.lost_messages}`])
}
if (ingestOn) {
  rows.push(['ingest, engine on', `${fmt(ingestOn.msgs_per_s)} msg/s`, fmt(ingestOn.p50_ms, 2), fmt(ingestOn.p95_ms, 2), fmt(ingestOn.p99_ms, 2), fmt(ingestOn.peak_rss_mb, 1), cpuCell(ingestOn), `sandbox dispatch on the same cores, lost ${ingestOn.lost_messages}`])
}
if (ingestFull) {
  rows.push(['ingest, FULL', `${fmt(ingestFull.msgs_per_s)} msg/s`, fmt(ingestFull.p50_ms, 2), fmt(ingestFull.p95_ms, 2), fmt(ingestFull.p99_ms, 2), fmt(ingestFull.peak_rss_mb, 1), cpuCell(ingestFull), `synchronous = FULL (fsync every commit), 1 run, lost ${ingestFull.lost_messages}`])
}
if (batchResult) {
  rows.push(['ingest-batch', `${fmt(batchResult.msgs_per_s)} msg/s`, fmt(batchResult.p50_ms, 2), fmt(batchResult.p95_ms, 2), fmt(batchResult.p99_ms, 2), fmt(batchResult.peak_rss_mb, 1), cpuCell(batchResult), `100/request = ${fmt(batchResult.requests_per_s)} req/s, lost ${batchResult.lost_messages}`])
}
for (const [label, d] of [['dispatch', dispatchResult], ['dispatch, FULL', dispatchFull]] as const) {
  if (!d) continue
  rows.push([label, `${fmt(d.msgs_per_s)} msg/s`, fmt(d.p50_ms, 1), fmt(d.p95_ms, 1), fmt(d.p99_ms, 1), fmt(d.peak_rss_mb, 1), cpuCell(d), `${fmt(d.messages)} drained; latency at 1k msg/s accept→sink${d.complete ? '' : '; DRAIN INCOMPLETE'}; not arrived ${d.not_arrived}`])
}
if (webhooksResult) {
  const w = webhooksResult
  const drain = w.drains
  const drainCpu = drain.length ? { cpu_s: median(drain.map((d) => d.cpu_s)), cpu_cores: median(drain.map((d) => d.cpu_cores)) } : undefined
  rows.push(['webhooks', `${fmt(w.deliveries_per_s)} deliv/s`, '–', '–', '–', fmt(Math.max(...drain.map((d) => d.peak_rss_mb)), 1), cpuCell(drainCpu), `backlog drain: ${fmt(w.drain_backlog)} due deliveries to one endpoint, delivered by a fresh start${drain.every((d) => d.complete) ? '' : '; INCOMPLETE at the deadline'}`])
  rows.push(['webhooks, pipeline', `${fmt(w.pipeline_per_s)} deliv/s`, fmt(w.p50_ms, 1), fmt(w.p95_ms, 1), fmt(w.p99_ms, 1), fmt(w.peak_rss_mb, 1), cpuCell(w), `${fmt(w.messages)} msgs × 3 events accepted, dispatched and delivered together; deliverer ${fmt(w.deliverer_per_s)}/s; latency at 3k deliv/s event→subscriber${w.runs.every((r) => r.complete) ? '' : '; INCOMPLETE at the deadline'}; not succeeded ${w.not_succeeded}${w.latency_missing ? `; ${w.latency_missing} not arrived in the latency phase` : ''}`])
}
if (idleResult) {
  rows.push(['idle', `${fmt(idleResult.rss_mb, 1)} MiB RSS`, '–', '–', '–', fmt(idleResult.peak_rss_mb, 1), `${fmt(idleResult.cpu_s_while_idle, 2)}`, `start-up ${fmt(idleResult.startup_ms)} ms (fresh db ${fmt(idleResult.startup_fresh_ms)} ms); RSS ${fmt(idleResult.rss_after_start_mb, 1)} → ${fmt(idleResult.rss_mb, 1)} over ${fmt(idleResult.idle_seconds)} s`])
}
if (analyticsResult) {
  rows.push(['analytics', `${fmt(analyticsResult.queries)} queries`, fmt(analyticsResult.p50_ms, 1), fmt(analyticsResult.p95_ms, 1), fmt(analyticsResult.p99_ms, 1), '–', '–', `30-day hourly by channel; ${analyticsResult.history}`])
}
if (httpRef) {
  rows.push(['ref: hello-world Bun.serve', `${fmt(httpRef.rps)} req/s`, fmt(httpRef.p50_ms, 2), fmt(httpRef.p95_ms, 2), fmt(httpRef.p99_ms, 2), fmt(httpRef.peak_rss_mb, 1), fmt(httpRef.cpu_s, 1), 'same load generator and request as ingest'])
}
if (floorRef) {
  rows.push(['ref: send floor', `${fmt(floorRef.rps)} req/s`, fmt(floorRef.p50_ms, 2), fmt(floorRef.p95_ms, 2), fmt(floorRef.p99_ms, 2), fmt(floorRef.peak_rss_mb, 1), fmt(floorRef.cpu_s, 1), `a keyed send's required work alone (scripts/bench/floor.ts), same load as ingest; ingest is ${fmt(ratio(ingestResult?.msgs_per_s, floorRef.rps), 2)} of it; lost ${floorRef.lost_messages}`])
}
if (sqliteRef) {
  rows.push(['ref: raw bun:sqlite', `${fmt(sqliteRef.rows_per_s)} rows/s`, '–', '–', '–', '–', '–', `100-row transactions (1,000-row: ${fmt(sqliteRef.rows_per_s_1000)})`])
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
const line = (r: string[]) => r.map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
const m = results.machine as ReturnType<typeof machineInfo>
const out: string[] = []
out.push('')
out.push(`omnigate ${(results.omnigate as { version?: string }).version ?? ''} benchmark (${quick ? 'quick' : `full, median of ${bench.runs}`}) — ${m.cpu_model}, ${m.cores} cores, Bun ${m.bun_version}`)
out.push(`load generator: ${loadGenerators.description} (wrk ${wrk ? 'available' : 'not installed'}, oha ${oha ? 'available' : 'not installed'}); load average ${m.loadavg_start.join(' ')} → ${m.loadavg_end.join(' ')}`)
out.push('')
out.push(line(rows[0]!))
out.push(widths.map((w) => '─'.repeat(w)).join('  '))
for (const r of rows.slice(1)) out.push(line(r))
out.push('')
out.push('targets (issue 7):')
for (const c of checks) {
  const mark = c.ok === null ? '  ?' : c.ok ? ' ok' : 'MISS'
  out.push(`  ${mark.padStart(4)}  ${c.name.padEnd(26)} ${fmt(c.value, Number.isInteger(c.value) ? 0 : 2).padStart(10)}   target ${c.target}`)
}
const scaled = results.at_reference_speed as ReturnType<typeof atReferenceSpeed>
if (scaled) {
  const parts = (
    [
      ['ingest', scaled.ingest],
      ['ingest-batch', scaled.ingest_batch],
      ['dispatch', scaled.dispatch],
      ['webhooks', scaled.webhooks],
      ['send floor', scaled.send_floor],
    ] as const
  ).filter(([, v]) => v !== null)
  if (parts.length > 0) {
    out.push('')
    out.push(`at the targets' reference speed (hello-world ${fmt(scaled.hello_world_rps)} req/s; this run × ${fmt(scaled.factor, 3)}, an estimate):`)
    out.push(`  ${parts.map(([name, v]) => `${name} ${fmt(v)}`).join(', ')}`)
  }
}
if (Object.keys(errors).length > 0) {
  out.push('')
  out.push(`FAILED: ${Object.keys(errors).join(', ')} (details in ${outPath})`)
  exitCode = 1
}
if (lost > 0) exitCode = 1
out.push('')
const elapsedS = (performance.now() - startedAt) / 1000
out.push(`wrote ${outPath} (${round(elapsedS, 1)} s)${cpuProf ? `; CPU profiles in ${cpuProf}` : ''}`)
if (quick && elapsedS > 120) out.push(`note: --quick took ${round(elapsedS)} s, more than its 2-minute budget (a busy machine?)`)
console.log(out.join('\n'))
if (runningChildren() > 0) log(`WARNING: ${runningChildren()} child processes still tracked after cleanup`)
process.exit(exitCode)
