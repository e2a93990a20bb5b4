/**
 * `bun run bench:compare BASE`: what a change bought, measured on a machine whose speed drifts.
 * Builds BASE (a git revision, built in a temporary worktree, or the path of a binary) and the
 * working tree, then runs the chosen scenarios with one binary and the other in turn, a round at
 * a time (the order flips every round, so a drift weighs on both alike), and reports each
 * figure's median for both, the change, and every round's pair. Writes bench-compare.json.
 *
 *   bun run bench:compare BASE [--only a,b] [--rounds N] [--quick] [--no-build] [--out FILE]
 *
 * --only: the scenarios (default ingest,ingest-batch,dispatch,webhooks; any of bench's).
 * --rounds: default 2 (each round runs every scenario once with each binary, `--runs 1`).
 * --quick: bench's quick mode for every run. --no-build: measure dist/omnigate as it is.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BINARY, ensureBinary, log, median, ROOT, SCENARIOS } from './lib'

/** The figures compared, where a scenario's result holds them. */
export const FIGURES: { label: string; path: string; unit: string; higherIsBetter: boolean }[] = [
  { label: 'hello-world (the machine)', path: 'reference.http_rps', unit: 'req/s', higherIsBetter: true },
  { label: 'ingest', path: 'ingest.msgs_per_s', unit: 'msg/s', higherIsBetter: true },
  { label: 'ingest p99', path: 'ingest.p99_ms', unit: 'ms', higherIsBetter: false },
  { label: 'ingest, FULL', path: 'ingest.full_sync.msgs_per_s', unit: 'msg/s', higherIsBetter: true },
  { label: 'ingest-batch', path: 'ingest_batch.msgs_per_s', unit: 'msg/s', higherIsBetter: true },
  { label: 'dispatch', path: 'dispatch.msgs_per_s', unit: 'msg/s', higherIsBetter: true },
  { label: 'dispatch hand-off p99', path: 'dispatch.p99_ms', unit: 'ms', higherIsBetter: false },
  { label: 'dispatch, FULL', path: 'dispatch.full_sync.msgs_per_s', unit: 'msg/s', higherIsBetter: true },
  { label: 'webhooks', path: 'webhooks.deliveries_per_s', unit: 'deliv/s', higherIsBetter: true },
  { label: 'webhooks, pipeline', path: 'webhooks.pipeline_per_s', unit: 'deliv/s', higherIsBetter: true },
  { label: 'webhooks p99', path: 'webhooks.p99_ms', unit: 'ms', higherIsBetter: false },
  { label: 'idle RSS', path: 'idle.rss_mb', unit: 'MiB', higherIsBetter: false },
  { label: 'start-up', path: 'idle.startup_ms', unit: 'ms', higherIsBetter: false },
  { label: 'analytics p99', path: 'analytics.p99_ms', unit: 'ms', higherIsBetter: false },
]

export type Side = 'base' | 'current'

/** One figure of one run's bench-results.json, or null when that run did not produce it. */
export function figureOf(results: unknown, path: string): number | null {
  let value: unknown = results
  for (const key of path.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

export interface FigureComparison {
  label: string
  unit: string
  base: number
  current: number
  /** (current − base) / base, in %; positive is a gain when higherIsBetter, a loss otherwise. */
  change_pct: number
  better: boolean
  /** Every round's pair, in the order the rounds ran. */
  rounds: { base: number; current: number }[]
}

/** Each figure both sides measured in every round: medians, the change and the pairs. */
export function compareRuns(runs: { round: number; side: Side; results: unknown }[]): FigureComparison[] {
  const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b)
  const out: FigureComparison[] = []
  for (const figure of FIGURES) {
    const pairs: { base: number; current: number }[] = []
    for (const round of rounds) {
      const of = (side: Side) => {
        const run = runs.find((r) => r.round === round && r.side === side)
        return run ? figureOf(run.results, figure.path) : null
      }
      const base = of('base')
      const current = of('current')
      if (base !== null && current !== null) pairs.push({ base, current })
    }
    if (pairs.length === 0) continue
    const base = median(pairs.map((p) => p.base))
    const current = median(pairs.map((p) => p.current))
    const change = base === 0 ? 0 : ((current - base) / base) * 100
    out.push({
      label: figure.label,
      unit: figure.unit,
      base,
      current,
      change_pct: Math.round(change * 10) / 10,
      better: figure.higherIsBetter ? current > base : current < base,
      rounds: pairs,
    })
  }
  return out
}

export function formatComparison(rows: FigureComparison[], baseName: string): string {
  const num = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 100) / 100))
  const header = ['figure', `base (${baseName})`, 'current', 'change', 'rounds: base → current']
  const lines = rows.map((r) => [
    `${r.label} (${r.unit})`,
    num(r.base),
    num(r.current),
    `${r.change_pct > 0 ? '+' : ''}${r.change_pct.toFixed(1)} %${r.change_pct === 0 ? '' : r.better ? ' better' : ' worse'}`,
    r.rounds.map((p) => `${num(p.base)} → ${num(p.current)}`).join(', '),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()
  return [row(header), widths.map((w) => '─'.repeat(w)).join('  '), ...lines.map(row)].join('\n')
}

/** The scenarios to run, checked against bench's own list. */
export function parseScenarios(value: string | undefined): string[] {
  const list = (value ?? 'ingest,ingest-batch,dispatch,webhooks').split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = list.filter((s) => !(SCENARIOS as readonly string[]).includes(s))
  if (unknown.length > 0) throw new Error(`--only: unknown scenario "${unknown[0]}"; scenarios: ${SCENARIOS.join(', ')}`)
  if (list.length === 0) throw new Error('--only: no scenario given')
  return list
}

function run(cmd: string[], cwd: string, what: string): string {
  const res = Bun.spawnSync(cmd, { cwd, stdout: 'pipe', stderr: 'pipe' })
  if (res.exitCode !== 0) throw new Error(`${what} failed (exit ${res.exitCode}):\n${res.stdout.toString()}${res.stderr.toString()}`.trimEnd())
  return res.stdout.toString().trim()
}

/** BASE as a binary: the path itself when it is a file, else the revision built in a temporary worktree. */
function baseBinary(base: string, dir: string): { binary: string; name: string } {
  if (existsSync(base) && statSync(base).isFile()) return { binary: resolve(base), name: base }
  const commit = Bun.spawnSync(['git', 'rev-parse', '--verify', '--quiet', `${base}^{commit}`], { cwd: ROOT, stdout: 'pipe' })
  if (commit.exitCode !== 0) throw new Error(`BASE "${base}" is neither a file nor a git revision of this repository`)
  const rev = commit.stdout.toString().trim()
  const tree = join(dir, 'base-tree')
  log(`building ${base} (${rev.slice(0, 7)}) in a temporary worktree`)
  run(['git', 'worktree', 'add', '--detach', '--quiet', tree, rev], ROOT, `git worktree add ${rev}`)
  try {
    if (!existsSync(join(tree, 'scripts', 'build.ts'))) throw new Error(`${base} has no scripts/build.ts to build it with`)
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'))
    run([process.execPath, join(tree, 'scripts', 'build.ts'), '--quiet'], tree, `building ${base}`)
    const binary = join(dir, 'omnigate-base')
    copyFileSync(join(tree, 'dist', 'omnigate'), binary)
    return { binary, name: rev.slice(0, 7) }
  } finally {
    Bun.spawnSync(['git', 'worktree', 'remove', '--force', tree], { cwd: ROOT, stdout: 'ignore', stderr: 'ignore' })
  }
}

async function main(): Promise<number> {
  const { values: args, positionals } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      only: { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  })
  if (args.help) {
    console.log(readFileSync(import.meta.path, 'utf8').split('*/')[0]!.replace(/^\/\*\*\n?/, '').replace(/^ \* ?/gm, ''))
    return 0
  }
  if (positionals.length !== 1) throw new Error('give one BASE: a git revision (e.g. HEAD~3) or the path of a binary')
  const scenarios = parseScenarios(args.only)
  const rounds = Number(args.rounds ?? 2)
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds wants a whole number from 1 to 20, got "${args.rounds}"`)

  const dir = mkdtempSync(join(tmpdir(), 'omnigate-bench-compare-'))
  try {
    const base = baseBinary(positionals[0]!, dir)
    ensureBinary(args['no-build'] ? 'never' : true)
    const runs: { round: number; side: Side; results: unknown }[] = []
    for (let round = 1; round <= rounds; round++) {
      // The order flips every round: a machine slowing down weighs on both sides alike.
      const order: Side[] = round % 2 === 1 ? ['base', 'current'] : ['current', 'base']
      for (const side of order) {
        const out = join(dir, `${side}-${round}.json`)
        const binary = side === 'base' ? base.binary : BINARY
        log(`round ${round}/${rounds}: ${side} (${scenarios.join(', ')})`)
        const argv = [process.execPath, join(ROOT, 'scripts', 'bench', 'index.ts'), '--binary', binary, '--runs', '1', '--only', scenarios.join(','), '--out', out]
        if (args.quick) argv.push('--quick')
        const proc = Bun.spawn(argv, { cwd: ROOT, stdout: 'ignore', stderr: 'inherit' })
        const code = await proc.exited
        if (!existsSync(out)) throw new Error(`the ${side} run of round ${round} wrote no results (exit ${code})`)
        runs.push({ round, side, results: JSON.parse(readFileSync(out, 'utf8')) })
      }
    }
    const rows = compareRuns(runs)
    console.log(`\n${formatComparison(rows, base.name)}\n`)
    const outPath = resolve(ROOT, args.out ?? 'bench-compare.json')
    writeFileSync(
      outPath,
      `${JSON.stringify({ generated_at: new Date().toISOString(), base: base.name, current: 'working tree', scenarios, rounds, quick: args.quick, figures: rows }, null, 2)}\n`,
    )
    log(`wrote ${outPath}`)
    return 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`bench:compare: ${(error as Error).message}`)
      process.exit(2)
    },
  )
}
