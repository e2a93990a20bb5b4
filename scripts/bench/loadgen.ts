/**
 * The Bun load generator, run in its own process so it does not share an event loop with the
 * server (on 2 cores it still shares the machine: its CPU time is reported). Closed loops run on
 * wrk instead when it is installed (scripts/bench/wrk.ts; `--loadgen bun` forces this one); the
 * open-loop `rate` run is always this one, since it records the id of every accepted message.
 *
 *   bun scripts/bench/loadgen.ts '<LoadSpec JSON>' | spec.json     (see LoadSpec in lib.ts)
 *
 * closed: `connections` request loops, each sending its next request when the previous answer
 *   arrived (keep-alive fetch), for warm-up + duration; latency of each measured request.
 * rate:   an open loop sending `rate` requests per second, evenly spaced, whatever the answers
 *   do (at most `connections` in flight); with `recordIds`, the send time of every accepted
 *   message id, to correlate with when the sink received it.
 *
 * Prints one JSON object (LoadResult) on stdout.
 */
import type { LoadResult, LoadSpec } from './lib'

const arg = Bun.argv[2] ?? '{}'
const spec = JSON.parse(arg.trimStart().startsWith('{') ? arg : await Bun.file(arg).text()) as LoadSpec
if (!spec.url || !spec.mode) {
  console.error('usage: bun scripts/bench/loadgen.ts <LoadSpec JSON | file with it>')
  process.exit(2)
}

const wallNow = () => performance.timeOrigin + performance.now()

class Samples {
  private data = new Float64Array(1 << 16)
  length = 0
  push(v: number) {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2)
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.length++] = v
  }
  values() {
    return this.data.subarray(0, this.length)
  }
}

function summarize(values: Float64Array) {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  if (n === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN }
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!
  let sum = 0
  for (const v of sorted) sum += v
  const r = (x: number) => Number(x.toFixed(3))
  return { p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), max: r(sorted[n - 1]!), mean: r(sum / n) }
}

const totalStatus: Record<string, number> = {}
const measuredStatus: Record<string, number> = {}
let totalRequests = 0
let measuredRequests = 0
let totalErrors = 0
let measuredErrors = 0
const firstErrors: string[] = []
const latencies = new Samples()
const ids: [string, number][] = []
let seq = 0

const baseHeaders = spec.headers ?? {}
const headersFor = (): Record<string, string> =>
  spec.idempotencyPrefix ? { ...baseHeaders, 'idempotency-key': `${spec.idempotencyPrefix}${seq++}` } : baseHeaders

const start = performance.now()
const measureFrom = start + spec.warmupMs
const end = measureFrom + spec.durationMs

async function one(): Promise<void> {
  const sentAt = performance.now()
  const sentWall = spec.recordIds ? wallNow() : 0
  let status = 'error'
  try {
    const res = await fetch(spec.url, { method: spec.method, headers: headersFor(), body: spec.body })
    status = String(res.status)
    if (spec.recordIds && res.status === 202) {
      const body = (await res.json()) as { id?: string }
      if (body.id) ids.push([body.id, sentWall])
    } else {
      await res.arrayBuffer()
    }
  } catch (error) {
    if (firstErrors.length < 5) firstErrors.push(String(error))
  }
  const doneAt = performance.now()
  const measured = sentAt >= measureFrom && sentAt < end
  totalRequests++
  totalStatus[status] = (totalStatus[status] ?? 0) + 1
  if (status === 'error') totalErrors++
  if (measured) {
    measuredRequests++
    measuredStatus[status] = (measuredStatus[status] ?? 0) + 1
    if (status === 'error') measuredErrors++
    latencies.push(doneAt - sentAt)
  }
}

if (spec.mode === 'closed') {
  const loop = async () => {
    while (performance.now() < end) await one()
  }
  await Promise.all(Array.from({ length: spec.connections }, loop))
} else {
  const rate = spec.rate ?? 1000
  const inFlight = new Set<Promise<void>>()
  let sent = 0
  for (;;) {
    const now = performance.now()
    if (now >= end) break
    const due = Math.floor(((now - start) * rate) / 1000)
    while (sent < due && inFlight.size < spec.connections) {
      sent++
      const p: Promise<void> = one().finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    await Bun.sleep(1)
  }
  await Promise.all(inFlight)
}

const measuredSeconds = spec.durationMs / 1000
const ok = (measuredStatus['200'] ?? 0) + (measuredStatus['201'] ?? 0) + (measuredStatus['202'] ?? 0)
const cpu = process.cpuUsage()
const result: LoadResult = {
  generator: 'bun-fetch',
  total: { requests: totalRequests, status: totalStatus, errors: totalErrors },
  measured: {
    requests: measuredRequests,
    status: measuredStatus,
    errors: measuredErrors,
    seconds: measuredSeconds,
    rps: measuredRequests / measuredSeconds,
    ok_rps: ok / measuredSeconds,
    latency_ms: summarize(latencies.values()),
  },
  first_errors: firstErrors,
  loadgen_cpu_s: (cpu.user + cpu.system) / 1e6,
  ...(spec.recordIds ? { ids } : {}),
}
await Bun.write(Bun.stdout, `${JSON.stringify(result)}\n`)
process.exit(0)
