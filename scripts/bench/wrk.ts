/**
 * wrk as the closed-loop load generator: `runLoad` (lib.ts) hands `mode: 'closed'` runs here when
 * wrk is on PATH (or `--loadgen wrk`); `--loadgen bun` and the open-loop `rate` run, which records
 * message ids, stay on the Bun generator (loadgen.ts).
 *
 * A load run is two wrk runs, a warm-up and the measured one, each driving scripts/bench/wrk.lua:
 * the script counts every answer by status, stops sending at its deadline and holds each
 * connection once its last answer is in; once every thread says it has drained, wrk gets SIGINT
 * and prints one JSON line, parsed here into the LoadResult the scenarios already read.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  type Child,
  type LatencySummary,
  type LoadResult,
  type LoadSpec,
  log,
  privateFile,
  signalChild,
  spawnChild,
  stopChild,
  tail,
} from './lib'

const WRK_SCRIPT = join(import.meta.dir, 'wrk.lua')
/** wrk threads: one per core of the 2-core machine the targets are set for (the server shares them). */
export const WRK_THREADS = 2
/** After its deadline, how long wrk may wait for the last answers before it is stopped anyway. */
const DRAIN_GRACE_MS = 10_000
/** wrk's latency histogram ends at --timeout: a slower answer is still counted, as a `timeout` error. */
const LATENCY_CEILING_S = 10
const RESULT_PREFIX = 'omnigate-wrk result '
const DRAINED = /^omnigate-wrk drained (\d+)$/gm

// ---------------------------------------------------------------------------------------------
// Which generator drives the closed-loop runs
// ---------------------------------------------------------------------------------------------

export type LoadGeneratorChoice = 'auto' | 'wrk' | 'bun'

export interface LoadGenerators {
  choice: LoadGeneratorChoice
  /** What drives `mode: 'closed'` runs. The open-loop hand-off run is always the Bun generator. */
  closed: 'wrk' | 'bun-fetch'
  wrk: { path: string; version: string } | null
  /** One line for bench-results.json's `load_generator` and the table header. */
  description: string
}

const BUN_DESCRIPTION = 'Bun fetch: scripts/bench/loadgen.ts in its own process, keep-alive fetch, closed loops'

/** wrk's path and version (`wrk -v` prints it, then the usage, and exits 1), or null. */
export function findWrk(): { path: string; version: string } | null {
  const path = Bun.which('wrk')
  if (!path) return null
  const res = Bun.spawnSync([path, '-v'], { stdout: 'pipe', stderr: 'pipe' })
  const version = /^wrk (\S+)/m.exec(res.stdout.toString())?.[1] ?? 'unknown version'
  return { path, version }
}

let chosen: LoadGenerators | null = null

/** Picks the closed-loop generator: wrk when installed (`auto`), or the one asked for; throws when `wrk` is asked for and missing. */
export function chooseLoadGenerator(choice: LoadGeneratorChoice): LoadGenerators {
  const wrk = findWrk()
  if (choice === 'wrk' && !wrk) throw new Error('--loadgen wrk: wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)')
  const closed = choice === 'bun' || !wrk ? 'bun-fetch' : 'wrk'
  const description =
    closed === 'wrk'
      ? `wrk ${wrk!.version}, ${WRK_THREADS} threads, Lua script counting statuses (scripts/bench/wrk.lua); ` +
        'open-loop hand-off run: Bun fetch (scripts/bench/loadgen.ts)'
      : `${BUN_DESCRIPTION} (${choice === 'bun' ? '--loadgen bun' : 'wrk not installed'})`
  chosen = { choice, closed, wrk, description }
  return chosen
}

/** The generators in use (`auto` unless `chooseLoadGenerator` was called). */
export function loadGenerators(): LoadGenerators {
  return chosen ?? chooseLoadGenerator('auto')
}

// ---------------------------------------------------------------------------------------------
// wrk's output
// ---------------------------------------------------------------------------------------------

/** What wrk.lua's done() prints, gathered from every thread. Latencies in microseconds. */
export interface WrkRun {
  threads: number
  duration_us: number
  /** wrk's own count of answers. */
  requests: number
  /** Requests sent (wrk.lua's count). */
  started: number
  /** Answers counted by wrk.lua's response(), any status. */
  responses: number
  status: Record<string, number>
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
  latency_us: { p50: number; p95: number; p99: number; max: number; mean: number } | null
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0

/** The `omnigate-wrk result {…}` line of wrk's stdout; throws naming what is missing or malformed. */
export function parseWrkOutput(stdout: string): WrkRun {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
  if (!line) throw new Error(`wrk printed no "${RESULT_PREFIX.trim()}" line`)
  let run: WrkRun
  try {
    run = JSON.parse(line.slice(RESULT_PREFIX.length)) as WrkRun
  } catch (error) {
    throw new Error(`wrk's result line is not JSON (${(error as Error).message}): ${line.slice(0, 300)}`)
  }
  const bad: string[] = []
  for (const key of ['threads', 'duration_us', 'requests', 'started', 'responses'] as const) if (!isCount(run[key])) bad.push(key)
  if (typeof run.status !== 'object' || run.status === null) bad.push('status')
  else for (const [code, n] of Object.entries(run.status)) if (!/^\d{3}$/.test(code) || !isCount(n)) bad.push(`status.${code}`)
  for (const key of ['connect', 'read', 'write', 'status', 'timeout'] as const) if (!isCount(run.errors?.[key])) bad.push(`errors.${key}`)
  if (run.latency_us !== null) {
    for (const key of ['p50', 'p95', 'p99', 'max', 'mean'] as const) if (typeof run.latency_us?.[key] !== 'number') bad.push(`latency_us.${key}`)
  }
  if (bad.length > 0) throw new Error(`wrk's result line lacks or mangles ${bad.join(', ')}: ${line.slice(0, 300)}`)
  const counted = Object.values(run.status).reduce((a, b) => a + b, 0)
  if (counted !== run.responses) throw new Error(`wrk's result line counts ${counted} answers by status but ${run.responses} in all`)
  return run
}

/** One wrk run with what it cost. */
export interface WrkPhase {
  run: WrkRun
  cpuS: number
  /** Anything worth a look (socket errors, unanswered requests, wrk's stderr). */
  notes: string[]
}

const socketErrors = (run: WrkRun) => run.errors.connect + run.errors.read + run.errors.write + run.errors.timeout
/** Requests sent and never answered: only after socket errors, or when wrk had to be stopped before it drained. */
const unanswered = (run: WrkRun) => Math.max(0, run.started - run.responses)

function statusOf(run: WrkRun): Record<string, number> {
  const status = { ...run.status }
  if (unanswered(run) > 0) status.error = unanswered(run)
  return status
}

function latencyMs(run: WrkRun): LatencySummary {
  const l = run.latency_us
  const ms = (us: number) => Number((us / 1000).toFixed(3))
  return l ? { p50: ms(l.p50), p95: ms(l.p95), p99: ms(l.p99), max: ms(l.max), mean: ms(l.mean) } : { p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN }
}

/**
 * The LoadResult of a warm-up run (or none) and a measured run: totals over both (every answered
 * request, so 202s match the database), the rate and latency over the measured one.
 */
export function wrkLoadResult(spec: Pick<LoadSpec, 'durationMs'>, warmup: WrkPhase | null, measured: WrkPhase): LoadResult {
  const phases = warmup ? [warmup, measured] : [measured]
  const total: Record<string, number> = {}
  for (const p of phases) for (const [code, n] of Object.entries(statusOf(p.run))) total[code] = (total[code] ?? 0) + n
  const m = measured.run
  const seconds = spec.durationMs / 1000
  const measuredStatus = statusOf(m)
  const requests = m.responses + unanswered(m)
  const ok = (m.status['200'] ?? 0) + (m.status['201'] ?? 0) + (m.status['202'] ?? 0)
  return {
    generator: 'wrk',
    total: {
      requests: phases.reduce((sum, p) => sum + p.run.responses + unanswered(p.run), 0),
      status: total,
      errors: phases.reduce((sum, p) => sum + socketErrors(p.run), 0),
    },
    measured: {
      requests,
      status: measuredStatus,
      errors: socketErrors(m),
      seconds,
      rps: requests / seconds,
      ok_rps: ok / seconds,
      latency_ms: latencyMs(m),
    },
    first_errors: phases.flatMap((p) => p.notes).slice(0, 5),
    loadgen_cpu_s: phases.reduce((sum, p) => sum + p.cpuS, 0),
  }
}

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

/** The headers file wrk.lua reads: "Name: value" lines, refusing anything that would split a header. */
function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`header name ${JSON.stringify(name)} is not a token`)
      if (/[\r\n]/.test(value)) throw new Error(`header ${name} holds a line break`)
      return `${name}: ${value}\n`
    })
    .join('')
}

async function readStdout(child: Child & { stdout: ReadableStream<Uint8Array> | null }, onText: (text: string) => void): Promise<string> {
  const reader = child.stdout!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done) break
    text += decoder.decode(chunk.value, { stream: true })
    onText(text)
  }
  return text + decoder.decode()
}

async function wrkPhase(spec: LoadSpec, phase: 'warmup' | 'measured', durationMs: number, files: { headers: string; body: string | null }): Promise<WrkPhase> {
  const wrk = loadGenerators().wrk
  if (!wrk) throw new Error('wrk is not installed')
  const threads = Math.min(WRK_THREADS, spec.connections)
  // wrk opens connections / threads per thread.
  const perThread = Math.floor(spec.connections / threads)
  const env: Record<string, string> = {
    OMNIGATE_WRK_METHOD: spec.method,
    OMNIGATE_WRK_HEADERS_FILE: files.headers,
    OMNIGATE_WRK_BODY_FILE: files.body ?? '',
    // The phase is part of the key: the measured run's keys must not replay the warm-up's.
    OMNIGATE_WRK_KEY_PREFIX: spec.idempotencyPrefix ? `${spec.idempotencyPrefix}${phase === 'warmup' ? 'w' : 'm'}` : '',
    OMNIGATE_WRK_DURATION_MS: String(durationMs),
    OMNIGATE_WRK_CONNECTIONS: String(perThread),
  }
  // -d only bounds a run that never drains: SIGINT ends it as soon as every thread has.
  const backstopS = Math.ceil((durationMs + DRAIN_GRACE_MS) / 1000) + 5
  const cmd = [wrk.path, `-t${threads}`, `-c${perThread * threads}`, `-d${backstopS}s`, `--timeout`, `${LATENCY_CEILING_S}s`, '--latency', '-s', WRK_SCRIPT, spec.url]
  const child = spawnChild(`wrk-${phase}`, cmd, { env, pipeStdout: true })
  const notes: string[] = []
  let interrupted = false
  let killTimer: ReturnType<typeof setTimeout> | undefined
  const interrupt = () => {
    if (interrupted) return
    interrupted = true
    signalChild(child, 'SIGINT')
    // wrk stops within 100 ms of SIGINT; if it does not, it goes with its process group.
    killTimer = setTimeout(() => void stopChild(child, 1000), 10_000)
  }
  const graceTimer = setTimeout(() => {
    notes.push(`wrk (${phase}) had not drained ${DRAIN_GRACE_MS / 1000} s after its deadline: stopped with requests in flight`)
    interrupt()
  }, durationMs + DRAIN_GRACE_MS)
  let stdout: string
  try {
    stdout = await readStdout(child, (text) => {
      const drained = new Set([...text.matchAll(DRAINED)].map((m) => m[1]))
      if (drained.size >= threads) interrupt()
    })
  } finally {
    clearTimeout(graceTimer)
  }
  const code = await child.proc.exited
  clearTimeout(killTimer)
  // The log file holds wrk's stderr; its report on stdout goes after it, for --keep.
  const stderr = tail(child.logPath, 1000).trim()
  await Bun.write(child.logPath, `${stderr ? `${stderr}\n` : ''}--- wrk stdout ---\n${stdout}`)
  if (code !== 0) throw new Error(`wrk (${phase}) exited ${code ?? child.proc.signalCode}:\n${stdout.slice(-1000)}\n${stderr.slice(-1000)}`)
  let run: WrkRun
  try {
    run = parseWrkOutput(stdout)
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${stdout.slice(-1000)}`)
  }
  const usage = child.proc.resourceUsage()
  const cpuS = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : 0
  if (socketErrors(run) > 0) {
    const e = run.errors
    notes.push(`wrk (${phase}) socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout (slower than ${LATENCY_CEILING_S} s) ${e.timeout}`)
  }
  if (unanswered(run) > 0) notes.push(`wrk (${phase}): ${unanswered(run)} requests sent and never answered`)
  if (stderr) notes.push(`wrk (${phase}) stderr: ${stderr.slice(0, 300)}`)
  return { run, cpuS, notes }
}

/** A closed-loop LoadSpec run with wrk: a warm-up run, then the measured run. */
export async function runWrk(spec: LoadSpec): Promise<LoadResult> {
  if (spec.mode !== 'closed') throw new Error(`wrk runs closed loops only, not "${spec.mode}"`)
  if (spec.connections % WRK_THREADS !== 0) log(`wrk: ${spec.connections} connections over ${WRK_THREADS} threads: it opens ${Math.floor(spec.connections / WRK_THREADS) * WRK_THREADS}`)
  // The API key is in the headers: a file of mode 0600, read by wrk.lua, never on wrk's command line.
  const headersFile = privateFile('wrk-headers', headerLines(spec.headers))
  const bodyFile = spec.body === undefined ? null : privateFile('wrk-body', spec.body)
  try {
    const files = { headers: headersFile, body: bodyFile }
    const warmup = spec.warmupMs > 0 ? await wrkPhase(spec, 'warmup', spec.warmupMs, files) : null
    const measured = await wrkPhase(spec, 'measured', spec.durationMs, files)
    return wrkLoadResult(spec, warmup, measured)
  } finally {
    rmSync(headersFile, { force: true })
    if (bodyFile) rmSync(bodyFile, { force: true })
  }
}
