/**
 * scripts/bench/compare.ts: the figures two builds measured in turn, set side by side (medians of
 * the rounds, the change, whether it is better), and the command's refusals of a bad BASE or
 * option before anything is built.
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { compareRuns, figureOf, formatComparison, parseScenarios } from '../../scripts/bench/compare'

/** Runs a bench script with `argv`: its exit code and what it wrote to stderr. */
function runScript(name: string, ...argv: string[]) {
  const res = Bun.spawnSync([process.execPath, join(import.meta.dir, '..', '..', 'scripts', 'bench', name), ...argv], { stdout: 'pipe', stderr: 'pipe' })
  return { code: res.exitCode, err: res.stderr.toString().trim() }
}

const results = (dispatch: number, p99: number, webhooks?: number) => ({
  dispatch: { msgs_per_s: dispatch, p99_ms: p99, full_sync: { msgs_per_s: dispatch - 1000 } },
  ...(webhooks === undefined ? {} : { webhooks: { deliveries_per_s: webhooks } }),
})

test('a figure is read by its path; a missing or non-numeric one is null', () => {
  expect(figureOf(results(10_000, 14), 'dispatch.full_sync.msgs_per_s')).toBe(9_000)
  expect(figureOf(results(10_000, 14), 'webhooks.deliveries_per_s')).toBeNull()
  expect(figureOf({ dispatch: { msgs_per_s: 'fast' } }, 'dispatch.msgs_per_s')).toBeNull()
  expect(figureOf(null, 'dispatch.msgs_per_s')).toBeNull()
})

test('medians of the rounds, the change in %, and better or worse by the figure\'s direction', () => {
  const rows = compareRuns([
    { round: 1, side: 'base', results: results(9_000, 16, 6_000) },
    { round: 1, side: 'current', results: results(9_900, 14, 6_300) },
    // Round 2 ran the other way round, on a slower machine.
    { round: 2, side: 'current', results: results(9_500, 15) },
    { round: 2, side: 'base', results: results(8_600, 18) },
  ])
  const by = Object.fromEntries(rows.map((r) => [r.label, r]))
  expect(by.dispatch).toMatchObject({ base: 8_800, current: 9_700, change_pct: 10.2, better: true })
  expect(by.dispatch!.rounds).toEqual([
    { base: 9_000, current: 9_900 },
    { base: 8_600, current: 9_500 },
  ])
  // Lower is better for latency: a fall is a gain.
  expect(by['dispatch hand-off p99']).toMatchObject({ base: 17, current: 14.5, change_pct: -14.7, better: true })
  // Measured by both sides in round 1 only: that round's pair alone.
  expect(by.webhooks).toMatchObject({ base: 6_000, current: 6_300, rounds: [{ base: 6_000, current: 6_300 }] })
  // Figures no run produced are left out.
  expect(by.ingest).toBeUndefined()
  const table = formatComparison(rows, 'abc1234')
  expect(table).toContain('base (abc1234)')
  expect(table).toMatch(/dispatch \(msg\/s\)\s+8,800\s+9,700\s+\+10\.2 % better\s+9,000 → 9,900, 8,600 → 9,500/)
  expect(table).toMatch(/dispatch hand-off p99 \(ms\)\s+17\s+14\.5\s+-14\.7 % better/)
})

test('scenarios are checked against the bench\'s own', () => {
  expect(parseScenarios(undefined)).toEqual(['ingest', 'ingest-batch', 'dispatch', 'webhooks'])
  expect(parseScenarios('dispatch, idle')).toEqual(['dispatch', 'idle'])
  expect(() => parseScenarios('dispatch,fast')).toThrow('--only: unknown scenario "fast"')
  expect(() => parseScenarios(',')).toThrow('--only: no scenario given')
})

test('a bad BASE or option is refused in one line, before anything is built', () => {
  const run = (...argv: string[]) => runScript('compare.ts', ...argv)
  expect(run()).toEqual({ code: 2, err: 'bench:compare: give one BASE: a git revision (e.g. HEAD~3) or the path of a binary' })
  expect(run('no-such-revision-or-file')).toEqual({
    code: 2,
    err: 'bench:compare: BASE "no-such-revision-or-file" is neither a file nor a git revision of this repository',
  })
  expect(run('HEAD', '--rounds', '0')).toEqual({ code: 2, err: 'bench:compare: --rounds wants a whole number from 1 to 20, got "0"' })
  expect(run('HEAD', '--only', 'nope')).toEqual({
    code: 2,
    err: 'bench:compare: --only: unknown scenario "nope"; scenarios: reference, ingest, ingest-batch, dispatch, webhooks, idle, analytics',
  })
})

test('bench --binary measures a given file only, with neither --source nor --build', () => {
  const run = (...argv: string[]) => runScript('index.ts', ...argv)
  expect(run('--binary', '/nonexistent/omnigate')).toEqual({ code: 2, err: '--binary: /nonexistent/omnigate is not a file' })
  expect(run('--binary', import.meta.path, '--source')).toEqual({ code: 2, err: '--binary measures a given build: it goes with neither --source nor --build' })
})
