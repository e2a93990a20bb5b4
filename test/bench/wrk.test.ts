/**
 * The benchmark's wrk load generator (scripts/bench/wrk.ts, wrk.lua): its result line parsed into
 * the LoadResult the scenarios read (no wrk needed), and, where wrk is installed, a real run
 * against a local server that counts what it answered: wrk's counts by status must be exactly the
 * server's, which is what lets the ingest scenario compare 202s with stored messages.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { cleanupAll, type LoadSpec } from '../../scripts/bench/lib'
import { parseWrkOutput, runWrk, type WrkPhase, type WrkRun, wrkLoadResult } from '../../scripts/bench/wrk'

afterAll(() => cleanupAll())

/** What wrk printed for a hello-world run (`wrk -t2 -c64 --latency -s wrk.lua`, 2 s, then SIGINT). */
const RECORDED = `Running 6s test @ http://127.0.0.1:40631/v1/x
  2 threads and 64 connections
omnigate-wrk drained 2
omnigate-wrk drained 1
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.58ms   10.54ms  89.86ms   91.67%
    Req/Sec    11.62k     6.91k   29.14k    82.05%
  Latency Distribution
     50%    1.95ms
     75%    5.41ms
     90%   13.08ms
     99%   56.59ms
  46733 requests in 2.17s, 5.93MB read
Requests/sec:  21501.49
Transfer/sec:      2.73MB
omnigate-wrk result {"threads":2,"duration_us":2173477,"requests":46733,"started":46733,"responses":46733,"status":{"202":46733},"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latency_us":{"p50":1953,"p95":27158,"p99":56589,"max":89855,"mean":5584.9}}
`

const resultLine = (run: Record<string, unknown>) => `omnigate-wrk result ${JSON.stringify(run)}\n`
const base: WrkRun = {
  threads: 2,
  duration_us: 1_000_000,
  requests: 10,
  started: 10,
  responses: 10,
  status: { '202': 10 },
  errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
  latency_us: { p50: 1000, p95: 2000, p99: 3000, max: 4000, mean: 1234.6 },
}

describe('parseWrkOutput', () => {
  test('reads the result line among wrk’s own report', () => {
    const run = parseWrkOutput(RECORDED)
    expect(run.status).toEqual({ '202': 46733 })
    expect(run.started).toBe(46733)
    expect(run.responses).toBe(46733)
    expect(run.latency_us).toEqual({ p50: 1953, p95: 27158, p99: 56589, max: 89855, mean: 5584.9 })
    expect(run.errors.read).toBe(0)
  })

  test('no result line (wrk died, or an old script) is an error', () => {
    expect(() => parseWrkOutput('Running 6s test @ http://127.0.0.1:1/\n')).toThrow('printed no "omnigate-wrk result" line')
  })

  test('a line that is not JSON, or lacks a count, names what is wrong', () => {
    expect(() => parseWrkOutput('omnigate-wrk result {"threads":2,\n')).toThrow('not JSON')
    const { errors: _dropped, ...noErrors } = base
    expect(() => parseWrkOutput(resultLine({ ...noErrors, status: { '202': 10, abc: 1 } }))).toThrow(/status\.abc.*errors\.connect/)
    expect(() => parseWrkOutput(resultLine({ ...base, started: -1 }))).toThrow('started')
  })

  test('answers counted by status must add up to the answers counted', () => {
    expect(() => parseWrkOutput(resultLine({ ...base, status: { '202': 9 } }))).toThrow('counts 9 answers by status but 10')
  })

  test('a run without any answer has no latency', () => {
    const run = parseWrkOutput(resultLine({ ...base, requests: 0, started: 0, responses: 0, status: {}, latency_us: null }))
    expect(run.latency_us).toBeNull()
  })
})

describe('wrkLoadResult', () => {
  const phase = (run: Partial<WrkRun>, cpuS = 0.5, notes: string[] = []): WrkPhase => ({
    run: parseWrkOutput(resultLine({ ...base, ...run })),
    cpuS,
    notes,
  })

  test('totals hold the warm-up and the measured run, the rate and latency the measured run only', () => {
    const warmup = phase({ requests: 50, started: 50, responses: 50, status: { '202': 48, '429': 2 }, latency_us: { ...base.latency_us!, p99: 99_000 } }, 0.25)
    const measured = phase({ requests: 300, started: 300, responses: 300, status: { '202': 290, '500': 10 } }, 1)
    const result = wrkLoadResult({ durationMs: 2000 }, warmup, measured)
    expect(result.generator).toBe('wrk')
    expect(result.total).toEqual({ requests: 350, status: { '202': 338, '429': 2, '500': 10 }, errors: 0 })
    expect(result.measured.requests).toBe(300)
    expect(result.measured.status).toEqual({ '202': 290, '500': 10 })
    expect(result.measured.seconds).toBe(2)
    expect(result.measured.rps).toBe(150)
    expect(result.measured.ok_rps).toBe(145)
    // Microseconds → milliseconds; the warm-up's p99 is not in it.
    expect(result.measured.latency_ms).toEqual({ p50: 1, p95: 2, p99: 3, max: 4, mean: 1.235 })
    expect(result.loadgen_cpu_s).toBe(1.25)
  })

  test('requests never answered count as errors by status; socket errors are the errors', () => {
    const measured = phase(
      { requests: 8, started: 10, responses: 8, status: { '202': 8 }, errors: { connect: 1, read: 2, write: 0, status: 0, timeout: 1 } },
      0.1,
      ['wrk (measured) socket errors: connect 1, read 2, write 0, timeout (slower than 10 s) 1'],
    )
    const result = wrkLoadResult({ durationMs: 1000 }, null, measured)
    expect(result.total).toEqual({ requests: 10, status: { '202': 8, error: 2 }, errors: 4 })
    expect(result.measured.errors).toBe(4)
    expect(result.first_errors).toEqual(['wrk (measured) socket errors: connect 1, read 2, write 0, timeout (slower than 10 s) 1'])
  })

  test('no answers at all: the latency is NaN, as the Bun generator reports it', () => {
    const result = wrkLoadResult({ durationMs: 1000 }, null, phase({ requests: 0, started: 0, responses: 0, status: {}, latency_us: null }))
    expect(result.measured.latency_ms.p99).toBeNaN()
    expect(result.measured.rps).toBe(0)
  })
})

const wrkPath = Bun.which('wrk')

test('a wrk run counts exactly what the server answered, by status, with a unique Idempotency-Key each', async () => {
  if (!wrkPath) {
    console.warn('wrk is not installed: the real wrk run of test/bench/wrk.test.ts is not checked (apt-get install wrk)')
    return
  }
  const answered: Record<string, number> = {}
  const keys = new Set<string>()
  let badRequests = 0
  let n = 0
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const body = await req.text()
      if (req.headers.get('authorization') !== 'Bearer og_test_secret' || body !== '{"hello":"wrk"}' || req.method !== 'POST') badRequests++
      keys.add(req.headers.get('idempotency-key') ?? '')
      // Every seventh answer is a 429: non-2xx answers must be counted too.
      const status = ++n % 7 === 0 ? 429 : 202
      answered[status] = (answered[status] ?? 0) + 1
      return new Response('{"status":"queued"}', { status, headers: { 'content-type': 'application/json' } })
    },
  })
  try {
    const spec: LoadSpec = {
      mode: 'closed',
      url: `http://127.0.0.1:${server.port}/v1/namespaces/bench/messages`,
      method: 'POST',
      headers: { authorization: 'Bearer og_test_secret', 'content-type': 'application/json' },
      body: '{"hello":"wrk"}',
      connections: 8,
      warmupMs: 300,
      durationMs: 700,
      idempotencyPrefix: 'test-',
    }
    const result = await runWrk(spec)
    expect(result.generator).toBe('wrk')
    expect(badRequests).toBe(0)
    expect(result.total.status).toEqual(answered)
    expect(result.total.requests).toBe(n)
    expect(result.total.errors).toBe(0)
    expect(result.measured.requests).toBeGreaterThan(0)
    expect(result.measured.requests).toBeLessThan(n)
    expect(result.measured.status['429']).toBeGreaterThan(0)
    expect(Number.isFinite(result.measured.latency_ms.p99)).toBe(true)
    expect(result.loadgen_cpu_s).toBeGreaterThan(0)
    // One key per request, none shared between the warm-up and the measured run.
    expect(keys.size).toBe(n)
    expect([...keys].every((k) => /^test-[wm][12]-\d+$/.test(k))).toBe(true)
  } finally {
    server.stop(true)
  }
})
