/**
 * Shared parts of the benchmark: child processes (each in its own process group, all killed at
 * the end), the gateway under test (generated config, temp directory, start-up timing), the
 * /proc samplers for RSS and CPU, the load generator (wrk or Bun) and the sink, and small statistics.
 */
import { Database } from 'bun:sqlite'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dir, '..', '..')
export const BENCH_DIR = import.meta.dir
export const BINARY = join(ROOT, 'dist', 'omnigate')
export const NAMESPACE = 'bench'
/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK; 100 on every Linux we run on). */
const CLK_TCK = (() => {
  try {
    const out = Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim()
    return Number(out) || 100
  } catch {
    return 100
  }
})()

// ---------------------------------------------------------------------------------------------
// Options shared by every scenario
// ---------------------------------------------------------------------------------------------

export interface BenchOptions {
  quick: boolean
  /** Concurrent request loops of the load generator. */
  connections: number
  /** Measured seconds per load run (after the warm-up). */
  durationS: number
  warmupS: number
  /** Runs per throughput figure (the median is reported). */
  runs: number
  /** Run the server from source (`bun src/main.ts serve`) instead of dist/omnigate. */
  source: boolean
  /** Directory for `--cpu-prof` profiles of each server process (the binary gets the flags through BUN_OPTIONS), or null. */
  cpuProfDir: string | null
  /** Extra environment for every gateway process (`--server-env KEY=VALUE`). */
  serverEnv: Record<string, string>
  /** Keep temp directories (databases, logs) for inspection. */
  keep: boolean
  verbose: boolean
  /** Send a unique Idempotency-Key with every ingest request (default; off = --without-idempotency-key). */
  idempotencyKey: boolean
  /** The binary to measure (`--binary`, e.g. an older build for scripts/bench/compare.ts); dist/omnigate when unset. */
  binary?: string
}

/** The scenarios, in the order a full run takes them (docs/performance.md). */
export const SCENARIOS = ['reference', 'ingest', 'ingest-batch', 'dispatch', 'webhooks', 'idle', 'analytics'] as const
export type Scenario = (typeof SCENARIOS)[number]

export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${line}\n`)
}

// ---------------------------------------------------------------------------------------------
// Child processes: one process group each, every one of them killed at the end
// ---------------------------------------------------------------------------------------------

export interface Child {
  name: string
  proc: ReturnType<typeof Bun.spawn>
  pid: number
  logPath: string
}

const children = new Set<Child>()
const tempDirs = new Set<string>()
let keepTemp = false

export function keepTempDirs(keep: boolean): void {
  keepTemp = keep
}

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `omnigate-bench-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

/** The logs' temp directory; made again after `cleanupAll` removed it (tests call it between files). */
const logDir = (() => {
  let dir: string | null = null
  return () => (dir !== null && tempDirs.has(dir) ? dir : (dir = makeTempDir('logs')))
})()

/** Writes `content` to a new file of mode 0600 in the bench's temp directory (for what holds the API key); returns its path. */
export function privateFile(prefix: string, content: string): string {
  const path = join(logDir(), `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`)
  writeFileSync(path, content, { mode: 0o600 })
  return path
}

/**
 * Starts a process in its own process group (setsid), with stderr (and stdout unless piped)
 * going to a log file; `stopChild` or, at the latest, `cleanupAll` ends it with its whole group.
 */
export function spawnChild(
  name: string,
  cmd: string[],
  opts: { env?: Record<string, string>; cwd?: string; pipeStdout?: boolean } = {},
): Child & { stdout: ReadableStream<Uint8Array> | null } {
  const logPath = join(logDir(), `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.log`)
  const file = Bun.file(logPath)
  writeFileSync(logPath, '')
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: { ...(process.env as Record<string, string>), ...opts.env },
    stdin: 'ignore',
    stdout: opts.pipeStdout ? 'pipe' : file,
    stderr: file,
    detached: true,
  })
  const child: Child = { name, proc, pid: proc.pid, logPath }
  children.add(child)
  proc.exited.then(() => children.delete(child))
  return { ...child, stdout: opts.pipeStdout ? (proc.stdout as ReadableStream<Uint8Array>) : null }
}

const alive = (child: Child) => child.proc.exitCode === null && child.proc.signalCode === null

/**
 * Signals a child's whole process group. Only while the child (the group leader) is alive: once
 * it has exited, its pid may belong to some other process, which must never be signalled.
 */
function signalGroup(child: Child, signal: NodeJS.Signals): void {
  if (!alive(child)) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      process.kill(child.pid, signal)
    } catch {
      // already gone
    }
  }
}

/** Sends `signal` to a running child's process group (nothing once it has exited). */
export function signalChild(child: Child, signal: NodeJS.Signals): void {
  signalGroup(child, signal)
}

/** SIGTERM to the child's group, SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: Child, graceMs = 15_000): Promise<number | null> {
  if (alive(child)) {
    signalGroup(child, 'SIGTERM')
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs)
    await child.proc.exited
    clearTimeout(timer)
  }
  children.delete(child)
  return child.proc.exitCode
}

/** Kills every child still running (with its group) and removes the temp directories. */
export async function cleanupAll(): Promise<void> {
  const running = [...children]
  for (const child of running) signalGroup(child, 'SIGKILL')
  await Promise.all(running.map((c) => Promise.race([c.proc.exited, Bun.sleep(3000)])))
  children.clear()
  if (!keepTemp) {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
    tempDirs.clear()
  } else if (tempDirs.size > 0) {
    log(`kept temp directories: ${[...tempDirs].join(' ')}`)
  }
}

export function runningChildren(): number {
  return children.size
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/** Reads the first line a child prints on stdout (how the sink and hello server give their port). */
export async function firstLine(stream: ReadableStream<Uint8Array>, timeoutMs = 10_000): Promise<string> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + timeoutMs
  try {
    while (!text.includes('\n')) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for the child to print its port')
      const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => null)])
      if (chunk === null) continue
      if (chunk.done) break
      text += decoder.decode(chunk.value, { stream: true })
    }
  } finally {
    reader.releaseLock()
  }
  return text.split('\n')[0]!.trim()
}

// ---------------------------------------------------------------------------------------------
// /proc sampling: peak RSS and CPU seconds of a process
// ---------------------------------------------------------------------------------------------

function readProcFile(path: string): string | null {
  // /proc files report size 0, so read them with a fixed buffer.
  try {
    const fd = openSync(path, 'r')
    try {
      const buf = Buffer.alloc(8192)
      const n = readSync(fd, buf, 0, buf.length, 0)
      return buf.toString('utf8', 0, n)
    } finally {
      closeSync(fd)
    }
  } catch {
    return null
  }
}

/** VmRSS and VmHWM (peak RSS) in MiB. */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } | null {
  const status = readProcFile(`/proc/${pid}/status`)
  if (!status) return null
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
}

/** utime + stime of a process in seconds. */
export function cpuSecondsOf(pid: number): number | null {
  const stat = readProcFile(`/proc/${pid}/stat`)
  if (!stat) return null
  // The command name (field 2) may contain spaces; the fields after it start at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

export interface Usage {
  /** Highest RSS seen: max(VmHWM at the end, sampled VmRSS). VmHWM covers the process's whole life. */
  peakRssMb: number
  cpuS: number
  wallS: number
  /** CPU seconds per wall second: 1.0 = one core busy. */
  cores: number
}

/** Samples a process's RSS every 100 ms and its CPU time at start and stop. */
export function sampleUsage(pid: number): { stop(): Usage } {
  const cpu0 = cpuSecondsOf(pid) ?? 0
  const t0 = performance.now()
  let peak = memoryOf(pid)?.rssMb ?? 0
  const timer = setInterval(() => {
    const m = memoryOf(pid)
    if (m && m.rssMb > peak) peak = m.rssMb
  }, 100)
  return {
    stop() {
      clearInterval(timer)
      const m = memoryOf(pid)
      const cpuS = (cpuSecondsOf(pid) ?? cpu0) - cpu0
      const wallS = (performance.now() - t0) / 1000
      return { peakRssMb: Math.max(peak, m?.hwmMb ?? 0, m?.rssMb ?? 0), cpuS, wallS, cores: wallS > 0 ? cpuS / wallS : 0 }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway under test
// ---------------------------------------------------------------------------------------------

/** A free loopback TCP port (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolvePort(port))
    })
  })
}

export const API_KEY = `og_live_bench${randomBytes(24).toString('base64url').replace(/[-_]/g, 'x')}`
const MASTER_KEY = randomBytes(32).toString('base64')

export interface GatewayConfig {
  synchronous?: 'NORMAL' | 'FULL'
  /** Where the `sink` http channel sends; a closed port when the scenario does not use it. */
  sinkUrl?: string
}

/** The generated omnigate.toml: a file database, one namespace with sandbox + http channels and an API key. */
export function gatewayConfig(dir: string, port: number, cfg: GatewayConfig): string {
  return `# Generated by scripts/bench for one benchmark run.
[server]
listen = "127.0.0.1:${port}"

[database]
url = "file:${join(dir, 'data', 'omnigate.db')}"
synchronous = "${cfg.synchronous ?? 'NORMAL'}"

[security]
master_key = "\${OMNIGATE_MASTER_KEY}"
allow_private_network = true

[limits]
# The default 200 requests/s per namespace would be what is measured.
namespace_requests_per_second = 0

[[namespaces]]
slug = "${NAMESPACE}"
name = "Benchmark"

[[namespaces.channels]]
name = "sandbox"
type = "sandbox"

[[namespaces.channels]]
name = "sink"
type = "http"
config = { url = "${cfg.sinkUrl ?? 'http://127.0.0.1:9/closed'}" }

[[namespaces.applications]]
name = "bench"

[[namespaces.applications.api_keys]]
key = "\${OMNIGATE_BENCH_API_KEY}"
name = "bench"
`
}

export interface Gateway {
  name: string
  url: string
  pid: number
  dir: string
  dbPath: string
  child: Child
  /** Spawn to the first 200 from /readyz. */
  startupMs: number
  /** Stops the server gracefully (SIGTERM; SIGKILL after 20 s); returns its exit code. */
  stop(): Promise<number | null>
}

export interface StartOptions extends GatewayConfig {
  name: string
  /** Reuse this directory (and its database) instead of a fresh one. */
  dir?: string
  engine?: boolean
  env?: Record<string, string>
}

const startupTimes: number[] = []
export function allStartupTimes(): number[] {
  return [...startupTimes]
}

export async function startGateway(bench: BenchOptions, opts: StartOptions): Promise<Gateway> {
  const dir = opts.dir ?? makeTempDir(opts.name)
  mkdirSync(join(dir, 'data'), { recursive: true })
  const port = await freePort()
  const configPath = join(dir, 'omnigate.toml')
  writeFileSync(configPath, gatewayConfig(dir, port, opts))
  const profiling = bench.cpuProfDir !== null
  const profFlags = profiling
    ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${bench.cpuProfDir}`, `--cpu-prof-name=${opts.name}-${Date.now()}`]
    : []
  // From source: `bun [--cpu-prof …] src/main.ts serve`. The binary takes Bun's flags from BUN_OPTIONS.
  const cmd = bench.source
    ? [process.execPath, ...profFlags, join(ROOT, 'src', 'main.ts'), '--config', configPath, 'serve']
    : [bench.binary ?? BINARY, '--config', configPath, 'serve']
  const env: Record<string, string> = {
    OMNIGATE_MASTER_KEY: MASTER_KEY,
    OMNIGATE_BENCH_API_KEY: API_KEY,
    OMNIGATE_ENGINE_ENABLED: opts.engine === false ? 'false' : 'true',
    ...(profiling && !bench.source ? { BUN_OPTIONS: profFlags.join(' ') } : {}),
    ...bench.serverEnv,
    ...opts.env,
  }
  const url = `http://127.0.0.1:${port}`
  const t0 = performance.now()
  const child = spawnChild(`server-${opts.name}`, cmd, { env, cwd: dir })
  // Wait for /readyz: poll every 2 ms, so the start-up time is resolved to a few ms.
  const deadline = t0 + 30_000
  let startupMs = -1
  while (performance.now() < deadline) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) break
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })
      if (res.status === 200) {
        await res.arrayBuffer()
        startupMs = performance.now() - t0
        break
      }
      await res.arrayBuffer()
    } catch {
      // not listening yet
    }
    await Bun.sleep(2)
  }
  if (startupMs < 0) {
    await stopChild(child, 1000)
    throw new Error(`gateway "${opts.name}" did not become ready (exit ${child.proc.exitCode ?? child.proc.signalCode}):\n${tail(child.logPath)}`)
  }
  startupTimes.push(startupMs)
  let stopping: Promise<number | null> | null = null
  if (bench.verbose) log(`gateway ${opts.name} ready on ${url} in ${startupMs.toFixed(0)} ms (pid ${child.pid})`)
  return {
    name: opts.name,
    url,
    pid: child.pid,
    dir,
    dbPath: join(dir, 'data', 'omnigate.db'),
    child,
    startupMs,
    stop: () =>
      (stopping ??= (async () => {
        const t = performance.now()
        // A profiled server writes its profile at exit: let it exit by itself.
        const code = profiling ? await stopChild(child, 60_000) : await stopGateway(child)
        if (bench.verbose) log(`gateway ${opts.name} stopped in ${(performance.now() - t).toFixed(0)} ms (exit ${code})`)
        return code
      })()),
  }
}

/** Graceful stops whose process lingered after logging `stopped` (see stopGateway). */
export const lingeringExits: { name: string; ms: number }[] = []

/**
 * SIGTERM, then wait for the process to exit. The gateway logs `stopped` once the HTTP server,
 * the engine and the store are closed; if the process is still alive 1 s after that line (a
 * timer left running keeps the event loop alive), it is killed: nothing is left to lose.
 */
async function stopGateway(child: Child): Promise<number | null> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return stopChild(child)
  const exited = child.proc.exited
  const stopping = stopChild(child, 30_000)
  let stoppedAt: number | null = null
  for (;;) {
    const done = await Promise.race([exited.then(() => true), Bun.sleep(50).then(() => false)])
    if (done) break
    if (stoppedAt === null && /\bINFO\s+stopped\b|"msg":"stopped"/.test(tail(child.logPath, 3))) stoppedAt = performance.now()
    if (stoppedAt !== null && performance.now() - stoppedAt > 1000) {
      const lingered = performance.now() - stoppedAt
      lingeringExits.push({ name: child.name, ms: Math.round(lingered) })
      signalGroup(child, 'SIGKILL')
      await exited
      return stopping.then(() => 0)
    }
  }
  return stopping
}

/** The newest modification time under a directory (files only). */
function newestMtime(path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = 0
  for (const entry of new Bun.Glob('**/*').scanSync({ cwd: path, onlyFiles: true })) {
    newest = Math.max(newest, statSync(join(path, entry)).mtimeMs)
  }
  return newest
}

/**
 * `bun run build` unless dist/omnigate is newer than everything it is built from
 * (src/, migrations/, package.json, the lockfile).
 */
export function ensureBinary(force: boolean | 'never'): { built: boolean; ms: number } {
  const sources = ['src', 'migrations', 'package.json', 'bun.lock', 'package-lock.json'].map((p) => join(ROOT, p)).filter((p) => existsSync(p))
  const binaryTime = existsSync(BINARY) ? statSync(BINARY).mtimeMs : 0
  const stale = sources.some((p) => newestMtime(p) > binaryTime)
  if (force === 'never') {
    if (!existsSync(BINARY)) throw new Error(`${BINARY} does not exist (run without --no-build)`)
    if (stale) log('dist/omnigate is older than src/ (--no-build): measuring the old binary')
    return { built: false, ms: 0 }
  }
  if (!force && !stale) return { built: false, ms: 0 }
  log(force ? 'building dist/omnigate' : 'dist/omnigate is older than src/: building it (bun run build)')
  const t0 = performance.now()
  const res = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), '--quiet'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (res.exitCode !== 0) throw new Error(`bun run build failed:\n${res.stdout.toString()}${res.stderr.toString()}`)
  return { built: true, ms: performance.now() - t0 }
}

// ---------------------------------------------------------------------------------------------
// API helpers (set-up traffic from the bench process itself, not measured)
// ---------------------------------------------------------------------------------------------

export const authHeaders = {
  authorization: `Bearer ${API_KEY}`,
  'content-type': 'application/json',
}

export function messageInput(channel: string, i: number): Record<string, unknown> {
  return {
    channel,
    to: `user${i % 1000}@example.com`,
    content: { text: `Benchmark message ${i}: your one-time code is ${100000 + (i % 900000)}.` },
    metadata: { bench: 'omnigate', n: String(i) },
  }
}

export async function api(gw: Pick<Gateway, 'url'>, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}/v1/namespaces/${NAMESPACE}${path}`, {
    method,
    headers: authHeaders,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed }
}

/** Sends `total` messages through POST /messages/batch, `perBatch` per request, `parallel` requests at once. */
export async function sendBatches(gw: Pick<Gateway, 'url'>, channel: string, total: number, perBatch: number, parallel = 4): Promise<number> {
  let next = 0
  let accepted = 0
  const worker = async () => {
    while (next < total) {
      const start = next
      const count = Math.min(perBatch, total - start)
      next += count
      const messages = Array.from({ length: count }, (_, k) => messageInput(channel, start + k))
      const res = await api(gw, 'POST', '/messages/batch', { messages })
      if (res.status !== 202) throw new Error(`POST /messages/batch answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`)
      accepted += count
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  return accepted
}

// ---------------------------------------------------------------------------------------------
// The database, read-only from outside the server
// ---------------------------------------------------------------------------------------------

/** Size of the database's WAL file in MiB (0 when there is none): how far checkpoints lag behind. */
export function walMb(dbPath: string): number {
  try {
    return statSync(`${dbPath}-wal`).size / 1024 / 1024
  } catch {
    return 0
  }
}

/** Opens the gateway's database read-only (WAL: never blocks the server's writer). */
export function openReadonly(path: string): Database {
  const db = new Database(path, { readonly: true })
  db.run('PRAGMA busy_timeout = 5000')
  return db
}

export function scalar<T = number>(db: Database, query: string, ...params: (string | number)[]): T {
  const row = db.query(query).get(...params) as Record<string, T> | null
  return row ? (Object.values(row)[0] as T) : (0 as T)
}

// ---------------------------------------------------------------------------------------------
// The load generator and the sink, each in its own process
// ---------------------------------------------------------------------------------------------

export interface LoadSpec {
  mode: 'closed' | 'rate'
  url: string
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body?: string
  /** closed: concurrent request loops (keep-alive connections). rate: most requests in flight. */
  connections: number
  durationMs: number
  warmupMs: number
  /** rate mode: requests per second, evenly spaced (open loop). */
  rate?: number
  /** Adds an `Idempotency-Key` unique per request: `<prefix><n>` (Bun), `<prefix><w|m><thread>-<n>` (wrk: warm-up or measured run). */
  idempotencyPrefix?: string
  /** rate mode: keep `[id, send time]` of each 202 (its body's `id`). */
  recordIds?: boolean
}

export interface LatencySummary {
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export interface LoadResult {
  /** `wrk` or `bun-fetch`. */
  generator: string
  /** Every request, warm-up included (what the database must hold for 202s). */
  total: { requests: number; status: Record<string, number>; errors: number }
  /** The measured window only. */
  measured: { requests: number; status: Record<string, number>; errors: number; seconds: number; rps: number; ok_rps: number; latency_ms: LatencySummary }
  first_errors: string[]
  loadgen_cpu_s: number
  /** rate mode with recordIds: message id → wall-clock ms when its request was sent. */
  ids?: [string, number][]
}

/**
 * Runs a load spec: closed loops with wrk when it is installed (or `--loadgen wrk`; scripts/bench/wrk.ts),
 * else with the Bun generator (scripts/bench/loadgen.ts), which also runs every `rate` (open-loop)
 * spec: that one records the id of each accepted message, which wrk cannot.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.mode === 'closed') {
    // Imported here: wrk.ts imports this module.
    const wrk = await import('./wrk')
    if (wrk.loadGenerators().closed === 'wrk') return wrk.runWrk(spec)
  }
  // The spec goes through a file: it holds the API key, which has no business in `ps`.
  const specPath = privateFile('loadgen-spec', JSON.stringify(spec))
  const child = spawnChild('loadgen', [process.execPath, join(BENCH_DIR, 'loadgen.ts'), specPath], { pipeStdout: true })
  const out = await new Response(child.stdout!).text()
  const code = await child.proc.exited
  rmSync(specPath, { force: true })
  if (code !== 0) throw new Error(`loadgen exited ${code}:\n${tail(child.logPath)}`)
  try {
    return JSON.parse(out) as LoadResult
  } catch {
    throw new Error(`loadgen printed no JSON: ${out.slice(0, 500)}\n${tail(child.logPath)}`)
  }
}

export interface SinkStats {
  requests: number
  unique: number
  first_ms: number | null
  last_ms: number | null
  by_type: Record<string, number>
}

export interface Sink {
  url: string
  pid: number
  child: Child
  stats(): Promise<SinkStats>
  /** id → first arrival (wall-clock ms). */
  arrivals(): Promise<Map<string, number>>
  /** Webhook deliveries only: first arrival − the payload's `timestamp`, in ms. */
  lags(): Promise<number[]>
  reset(): Promise<void>
  stop(): Promise<void>
}

/** Starts scripts/bench/sink.ts: answers 200 `{"id": "<n>"}`, records when each id first arrived. */
export async function startSink(name: string): Promise<Sink> {
  const child = spawnChild(name, [process.execPath, join(BENCH_DIR, 'sink.ts')], { pipeStdout: true })
  const line = await firstLine(child.stdout!)
  const port = Number(JSON.parse(line).port)
  const url = `http://127.0.0.1:${port}`
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`${url}${path}`, { method })
    if (!res.ok) throw new Error(`sink ${path}: ${res.status}`)
    return res.json() as Promise<any>
  }
  return {
    url,
    pid: child.pid,
    child,
    stats: () => get('/__stats'),
    async arrivals() {
      const { ids, times } = (await get('/__arrivals')) as { ids: string[]; times: number[] }
      return new Map(ids.map((id, i) => [id, times[i]!]))
    },
    lags: async () => ((await get('/__lags')) as { lags: number[] }).lags,
    reset: async () => void (await get('/__reset', 'POST')),
    stop: async () => void (await stopChild(child, 2000)),
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/** Nearest-rank percentiles of a list of values. */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  if (n === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN }
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!
  let sum = 0
  for (const v of sorted) sum += v
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[n - 1]!, mean: sum / n }
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

export const round = (x: number, digits = 0): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x)

/**
 * Waits until `check` says done, polling every `everyMs`. Returns false when `deadlineMs` passed
 * first (the caller reports what got done by then); throws when nothing changed for `stallMs`.
 */
export async function waitFor(
  what: string,
  check: () => Promise<{ done: boolean; progress: number }> | { done: boolean; progress: number },
  opts: { everyMs?: number; stallMs?: number; deadlineMs?: number } = {},
): Promise<boolean> {
  const started = performance.now()
  let last = -1
  let lastChange = started
  for (;;) {
    const { done, progress } = await check()
    if (done) return true
    const now = performance.now()
    if (opts.deadlineMs !== undefined && now - started > opts.deadlineMs) {
      log(`${what}: not done after ${(opts.deadlineMs / 1000).toFixed(0)} s (at ${progress}); reporting what was done by then`)
      return false
    }
    if (progress !== last) {
      last = progress
      lastChange = now
    } else if (now - lastChange > (opts.stallMs ?? 30_000)) {
      throw new Error(`${what}: no progress for ${((opts.stallMs ?? 30_000) / 1000).toFixed(0)} s (at ${progress})`)
    }
    await Bun.sleep(opts.everyMs ?? 50)
  }
}

/** Single messages to `channel` at a steady `rate` a second for `seconds` (open loop: the Bun generator). */
export function steadySends(gw: Pick<Gateway, 'url'>, channel: string, rate: number, seconds: number, recordIds = false): Promise<LoadResult> {
  return runLoad({
    mode: 'rate',
    url: `${gw.url}/v1/namespaces/${NAMESPACE}/messages`,
    method: 'POST',
    headers: authHeaders,
    body: JSON.stringify(messageInput(channel, 1)),
    connections: 256,
    rate,
    durationMs: seconds * 1000,
    warmupMs: 0,
    recordIds,
  })
}

/**
 * Waits until the sink holds `expected` distinct ids: true, or false when the deadline passed
 * first; throws when nothing arrives for `stallMs`.
 */
export function arrived(sink: Pick<Sink, 'stats'>, what: string, expected: number, opts: { deadlineMs: number; everyMs?: number; stallMs?: number }): Promise<boolean> {
  return waitFor(
    what,
    async () => {
      const stats = await sink.stats()
      return { done: stats.unique >= expected, progress: stats.unique }
    },
    { everyMs: opts.everyMs ?? 100, stallMs: opts.stallMs ?? 30_000, deadlineMs: opts.deadlineMs },
  )
}

/** Waits for `expected` distinct arrivals at `sink`; a stall or the deadline is logged, and the caller reports what arrived. */
export async function awaitArrivals(sink: Pick<Sink, 'stats'>, what: string, expected: number, deadlineMs: number): Promise<void> {
  try {
    await arrived(sink, what, expected, { deadlineMs, stallMs: 10_000 })
  } catch (error) {
    log((error as Error).message)
  }
}
