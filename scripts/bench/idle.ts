/**
 * `idle`: start-up time and memory of a gateway doing nothing.
 *
 * Started first, while the machine is otherwise quiet: one start on a fresh database
 * (migrations and the config's namespace are applied: `startup_fresh_ms`), then three restarts
 * on that database (`startup_ms` = their median, the usual case). The last one is left idle
 * (engine on, no requests) while the other scenarios run in their own processes, and its RSS is
 * sampled until the idle period (60 s with --quick, 5 min otherwise) has passed since it became
 * ready: `rss_after_start_mb`, `rss_mb` (after the idle period) and the growth in between.
 */
import { type BenchOptions, cpuSecondsOf, type Gateway, log, makeTempDir, median, memoryOf, round, startGateway } from './lib'

export interface IdleResult {
  /** RSS after the idle period. */
  rss_mb: number
  rss_after_start_mb: number
  rss_growth_mb: number
  peak_rss_mb: number
  /** RSS samples over the idle period: [seconds since ready, MiB]. */
  rss_samples: [number, number][]
  idle_seconds: number
  /** Median of three starts on an existing database, spawn to the first 200 from /readyz. */
  startup_ms: number
  startup_runs_ms: number[]
  /** First start on an empty database (migrations included). */
  startup_fresh_ms: number
  cpu_s_while_idle: number
}

export interface IdleHandle {
  finish(): Promise<IdleResult>
}

const SAMPLE_EVERY_MS = 5000

export async function startIdle(bench: BenchOptions): Promise<IdleHandle> {
  const idleMs = (bench.quick ? 60 : 300) * 1000
  const dir = makeTempDir('idle')
  const fresh = await startGateway(bench, { name: 'idle-fresh', dir, engine: true })
  await fresh.stop()
  const starts: number[] = []
  let gw: Gateway | null = null
  for (let i = 0; i < 3; i++) {
    if (gw) await gw.stop()
    gw = await startGateway(bench, { name: `idle-${i}`, dir, engine: true })
    starts.push(gw.startupMs)
  }
  const idle = gw!
  const readyAt = performance.now()
  const m0 = memoryOf(idle.pid)
  const cpu0 = cpuSecondsOf(idle.pid) ?? 0
  const samples: [number, number][] = [[0, round(m0?.rssMb ?? NaN, 1)]]
  const timer = setInterval(() => {
    const m = memoryOf(idle.pid)
    if (m) samples.push([round((performance.now() - readyAt) / 1000, 1), round(m.rssMb, 1)])
  }, SAMPLE_EVERY_MS)
  log(
    `idle: fresh start ${fresh.startupMs.toFixed(0)} ms, restarts ${starts.map((s) => s.toFixed(0)).join('/')} ms, ` +
      `RSS ${m0?.rssMb.toFixed(1)} MiB; idling ${idleMs / 1000} s beside the other scenarios`,
  )
  return {
    async finish() {
      const left = idleMs - (performance.now() - readyAt)
      if (left > 0) {
        log(`idle: waiting ${(left / 1000).toFixed(0)} s more for the idle period`)
        await Bun.sleep(left)
      }
      clearInterval(timer)
      const m1 = memoryOf(idle.pid)
      const cpu1 = cpuSecondsOf(idle.pid) ?? cpu0
      const idleS = (performance.now() - readyAt) / 1000
      samples.push([round(idleS, 1), round(m1?.rssMb ?? NaN, 1)])
      await idle.stop()
      const result: IdleResult = {
        rss_mb: round(m1?.rssMb ?? NaN, 1),
        rss_after_start_mb: round(m0?.rssMb ?? NaN, 1),
        rss_growth_mb: round((m1?.rssMb ?? NaN) - (m0?.rssMb ?? NaN), 1),
        peak_rss_mb: round(m1?.hwmMb ?? NaN, 1),
        rss_samples: samples,
        idle_seconds: round(idleS, 1),
        startup_ms: round(median(starts)),
        startup_runs_ms: starts.map((s) => round(s)),
        startup_fresh_ms: round(fresh.startupMs),
        cpu_s_while_idle: round(cpu1 - cpu0, 2),
      }
      log(`idle: RSS ${result.rss_after_start_mb} → ${result.rss_mb} MiB after ${result.idle_seconds} s, ${result.cpu_s_while_idle} CPU s`)
      return result
    },
  }
}
