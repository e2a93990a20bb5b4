/**
 * `dispatch`: the outbox drained through the `http` connector to a real HTTP sink in its own
 * process.
 *
 * 1. Drain: N messages for the http channel are accepted through POST /messages/batch while the
 *    gateway runs with OMNIGATE_ENGINE_ENABLED=false; the gateway is restarted with the engine
 *    on, and the run waits until none is left to send. Messages/s = N / (last `sent` event −
 *    first `sending` event), both read from message_events (the claim writes `sending`).
 * 2. Hand-off latency: on the same gateway, the load generator sends single messages at a
 *    steady rate (1,000/s by default) and records when it sent the request for each accepted id;
 *    the sink records when each id arrived. Latency = arrival − send, so it includes the
 *    accepting request, the commit, the claim and the connector's POST.
 */
import {
  awaitArrivals,
  type BenchOptions,
  type LatencySummary,
  log,
  makeTempDir,
  median,
  openReadonly,
  round,
  sampleUsage,
  scalar,
  sendBatches,
  type Sink,
  startGateway,
  startSink,
  steadySends,
  summarize,
  waitFor,
} from './lib'

export interface DispatchRun {
  synchronous: 'NORMAL' | 'FULL'
  messages: number
  /** N / (last sent − first claim), from message_events. */
  msgs_per_s: number
  drain_seconds: number
  /** The same drain seen from the sink: arrivals / (last − first arrival). */
  sink_msgs_per_s: number
  sent: number
  failed: number
  /** False when the drain deadline passed first (the rate is then over what was sent by then). */
  complete: boolean
  /** Distinct claim timestamps of the `sending` events: about how many claim transactions ran. */
  claim_transactions: number
  messages_per_claim: number
  preload_msgs_per_s: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  startup_ms: number
  handoff: {
    rate_per_s: number
    seconds: number
    accepted: number
    arrived: number
    missing: number
    /** Some never arrived within the wait: they count with the time waited, so these are lower bounds. */
    latency_is_lower_bound: boolean
    /** The drain had not finished: the steady-load messages queued behind its backlog. */
    after_incomplete_drain: boolean
    latency_ms: LatencySummary
    accept_latency_ms: LatencySummary
    non_202: Record<string, number>
  } | null
}

export interface DispatchSummary {
  msgs_per_s: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  peak_rss_mb: number
  cpu_s: number
  cpu_cores: number
  messages: number
  /** Accepted messages not at the sink by the end (of a complete drain, or of the hand-off wait). */
  not_arrived: number
  complete: boolean
  runs: DispatchRun[]
}

export interface DispatchOptions {
  synchronous: 'NORMAL' | 'FULL'
  messages: number
  /** Seconds of steady load for the hand-off latency; 0 = skip. */
  latencySeconds: number
  /** Longest wait for the drain, and for the last hand-off after the steady load. */
  drainDeadlineS: number
  handoffWaitS: number
  rate: number
}

export async function dispatchRun(bench: BenchOptions, sink: Sink, opts: DispatchOptions, index: number): Promise<DispatchRun> {
  const label = `dispatch-${opts.synchronous.toLowerCase()}-${index}`
  const dir = makeTempDir(label)
  const gwOpts = { dir, synchronous: opts.synchronous, sinkUrl: `${sink.url}/deliver` } as const

  // 1. Pre-load the outbox with the engine off.
  const loader = await startGateway(bench, { ...gwOpts, name: `${label}-preload`, engine: false })
  const t0 = performance.now()
  try {
    await sendBatches(loader, 'sink', opts.messages, 1000, 4)
  } finally {
    await loader.stop()
  }
  const preloadS = (performance.now() - t0) / 1000
  log(`${label}: ${opts.messages} messages queued in ${preloadS.toFixed(1)} s; restarting with the engine on`)
  await sink.reset()

  // 2. Restart with the engine on and wait for the outbox to drain.
  const gw = await startGateway(bench, { ...gwOpts, name: label, engine: true })
  try {
    const sampler = sampleUsage(gw.pid)
    const db = openReadonly(gw.dbPath)
    let drain: { first: number; last: number; sent: number; failed: number; claims: number; complete: boolean }
    try {
      const complete = await waitFor(
        `${label} drain`,
        () => {
          // Unfinished work is exactly what has a next attempt (a claim keeps it; an outcome clears or
          // moves it), and the dispatcher's own partial index counts it in well under a millisecond.
          // (With `OR status = 'sending'` this was a scan of the whole table every 100 ms: ~15 ms of
          // CPU on the cores the gateway and the sink were measured on.)
          const left = scalar(db, 'SELECT count(*) FROM messages WHERE next_attempt_at IS NOT NULL')
          return { done: left === 0, progress: left }
        },
        { everyMs: 100, stallMs: 30_000, deadlineMs: opts.drainDeadlineS * 1000 },
      )
      drain = {
        first: scalar(db, "SELECT min(created_at) FROM message_events WHERE status = 'sending'"),
        last: scalar(db, "SELECT max(created_at) FROM message_events WHERE status = 'sent'"),
        sent: scalar(db, "SELECT count(*) FROM messages WHERE status = 'sent'"),
        failed: scalar(db, "SELECT count(*) FROM messages WHERE status = 'failed'"),
        // Claims stamp their 'sending' events with the claim's time: distinct times ≈ claim transactions.
        claims: scalar(db, "SELECT count(DISTINCT created_at) FROM message_events WHERE status = 'sending'"),
        complete,
      }
    } finally {
      db.close()
    }
    const usage = sampler.stop()
    const sinkStats = await sink.stats()
    const drainS = (drain.last - drain.first) / 1000
    const run: DispatchRun = {
      synchronous: opts.synchronous,
      messages: opts.messages,
      msgs_per_s: round(drain.sent / Math.max(drainS, 0.001)),
      drain_seconds: round(drainS, 3),
      sink_msgs_per_s:
        sinkStats.first_ms !== null && sinkStats.last_ms !== null
          ? round(sinkStats.unique / Math.max((sinkStats.last_ms - sinkStats.first_ms) / 1000, 0.001))
          : 0,
      sent: drain.sent,
      failed: drain.failed,
      complete: drain.complete,
      claim_transactions: drain.claims,
      messages_per_claim: round(drain.sent / Math.max(drain.claims, 1), 1),
      preload_msgs_per_s: round(opts.messages / preloadS),
      peak_rss_mb: round(usage.peakRssMb, 1),
      cpu_s: round(usage.cpuS, 2),
      cpu_cores: round(usage.cores, 2),
      startup_ms: round(gw.startupMs),
      handoff: null,
    }
    log(
      `${label}: ${drain.complete ? 'drained' : 'NOT drained:'} ${drain.sent} sent / ${drain.failed} failed in ${drainS.toFixed(2)} s = ` +
        `${run.msgs_per_s} msg/s; ~${drain.claims} claim transactions (${run.messages_per_claim} messages each)`,
    )
    if (drain.complete && drain.sent !== opts.messages) log(`${label}: WARNING ${opts.messages - drain.sent} of the queued messages did not end 'sent'`)

    // 3. Accept-to-hand-off latency under a steady load.
    if (opts.latencySeconds > 0) {
      await sink.reset()
      const load = await steadySends(gw, 'sink', opts.rate, opts.latencySeconds, true)
      const ids = load.ids ?? []
      await awaitArrivals(sink, `${label} hand-off`, ids.length, opts.handoffWaitS * 1000)
      const waitEnded = performance.timeOrigin + performance.now()
      const arrivals = await sink.arrivals()
      // A message still missing counts with the time waited so far: the percentiles are then lower bounds.
      const latencies: number[] = []
      let arrivedCount = 0
      for (const [id, sentAt] of ids) {
        const at = arrivals.get(id)
        if (at !== undefined) arrivedCount++
        latencies.push((at ?? waitEnded) - sentAt)
      }
      const lat = summarize(latencies)
      const non202 = Object.fromEntries(Object.entries(load.total.status).filter(([s]) => s !== '202'))
      run.handoff = {
        rate_per_s: opts.rate,
        seconds: opts.latencySeconds,
        accepted: ids.length,
        arrived: arrivedCount,
        missing: ids.length - arrivedCount,
        latency_is_lower_bound: arrivedCount < ids.length,
        after_incomplete_drain: !drain.complete,
        latency_ms: mapValues(lat, (v) => round(v, 2)),
        accept_latency_ms: load.measured.latency_ms,
        non_202: non202,
      }
      log(
        `${label}: hand-off at ${opts.rate}/s: p50 ${lat.p50.toFixed(1)} ms, p95 ${lat.p95.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms ` +
          `(${arrivedCount}/${ids.length} arrived${Object.keys(non202).length ? `, other answers ${JSON.stringify(non202)}` : ''})`,
      )
    }
    return run
  } finally {
    await gw.stop()
  }
}

function mapValues<T extends object>(o: T, f: (v: number) => number): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as number)])) as T
}

export function summarizeDispatch(runs: DispatchRun[]): DispatchSummary {
  const withLatency = runs.filter((r) => r.handoff)
  return {
    msgs_per_s: round(median(runs.map((r) => r.msgs_per_s))),
    p50_ms: round(median(withLatency.map((r) => r.handoff!.latency_ms.p50)), 2),
    p95_ms: round(median(withLatency.map((r) => r.handoff!.latency_ms.p95)), 2),
    p99_ms: round(median(withLatency.map((r) => r.handoff!.latency_ms.p99)), 2),
    peak_rss_mb: round(Math.max(...runs.map((r) => r.peak_rss_mb)), 1),
    cpu_s: round(median(runs.map((r) => r.cpu_s)), 2),
    cpu_cores: round(median(runs.map((r) => r.cpu_cores)), 2),
    messages: runs[0]?.messages ?? 0,
    not_arrived: runs.reduce((sum, r) => sum + (r.complete ? r.messages - r.sent : 0) + (r.handoff?.missing ?? 0), 0),
    complete: runs.every((r) => r.complete),
    runs,
  }
}

export async function dispatch(bench: BenchOptions, synchronous: 'NORMAL' | 'FULL', runs: number): Promise<DispatchSummary> {
  const sink = await startSink(`sink-${synchronous.toLowerCase()}`)
  try {
    const opts: DispatchOptions = {
      synchronous,
      messages: bench.quick ? 10_000 : 100_000,
      latencySeconds: bench.quick ? (synchronous === 'NORMAL' ? 8 : 4) : 30,
      drainDeadlineS: bench.quick ? (synchronous === 'NORMAL' ? 12 : 8) : 300,
      handoffWaitS: bench.quick ? 4 : 60,
      rate: 1000,
    }
    const results: DispatchRun[] = []
    for (let i = 0; i < runs; i++) results.push(await dispatchRun(bench, sink, opts, i))
    return summarizeDispatch(results)
  } finally {
    await sink.stop()
  }
}
