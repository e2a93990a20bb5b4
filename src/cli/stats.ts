import type { Command } from 'commander'
import { ADMIN_GROUP_BYS, type AnalyticsReport, type GroupBy, INTERVALS, type Interval, messageAnalytics } from '../domain/analytics/query'
import { COUNTED_STATUSES, type CountedStatus } from '../domain/analytics/rollups'
import { now } from '../domain/deps'
import { getNamespace } from '../domain/namespaces'
import { parseSince } from './audit'
import { action, globals, printTable, UsageError, withGateway } from './context'

/** Always shown, even at zero: the statuses a reader looks for first. */
const MAIN_STATUSES: CountedStatus[] = ['queued', 'sent', 'delivered', 'failed']

const percent = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`)
const ms = (x: number | null) => (x === null ? '-' : `${x} ms`)

/** Per group (or one row for everything): the totals of the range, the columns that are not all zero. */
function totalsRows(report: AnalyticsReport): Record<string, unknown>[] {
  const byGroup = new Map<string, Partial<Record<CountedStatus, number>>>()
  if (report.group_by === null) byGroup.set('all', report.totals)
  else {
    for (const b of report.buckets) {
      const key = b.group ?? '(none)'
      const sum = byGroup.get(key) ?? {}
      for (const [status, n] of Object.entries(b.counts) as [CountedStatus, number][]) sum[status] = (sum[status] ?? 0) + n
      byGroup.set(key, sum)
    }
  }
  const shown = COUNTED_STATUSES.filter((s) => MAIN_STATUSES.includes(s) || report.totals[s] > 0)
  const rows = [...byGroup].sort(([a], [b]) => a.localeCompare(b))
  return rows.map(([group, counts]) => ({
    [report.group_by ?? 'messages']: group,
    ...Object.fromEntries(shown.map((s) => [s, counts[s] ?? 0])),
    delivered_of_sent: percent(counts.sent ? (counts.delivered ?? 0) / counts.sent : null),
  }))
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('message analytics: counts by status, delivery and failure rates, latencies, top failures')
    .option('-n, --namespace <slug>', 'one namespace (default: every namespace)')
    .option('--since <when>', 'from a duration ago (30m, 24h, 7d) or a time', '24h')
    .option('--until <when>', 'up to a duration ago or a time (default: now)')
    .option('--by <group>', `group by ${ADMIN_GROUP_BYS.join(', ')}`)
    .option('--interval <interval>', `bucket size: ${INTERVALS.join(', ')}`, 'hour')
    .option('--tz <zone>', 'IANA time zone of the buckets', 'UTC')
    .option('--channel <channel>', 'only this channel (name with -n, else id)')
    .action(
      action(async (opts: { namespace?: string; since: string; until?: string; by?: string; interval: string; tz: string; channel?: string }, cmd: Command) => {
        if (opts.by !== undefined && !(ADMIN_GROUP_BYS as readonly string[]).includes(opts.by)) {
          throw new UsageError(`--by must be one of ${ADMIN_GROUP_BYS.join(', ')}`)
        }
        if (!(INTERVALS as readonly string[]).includes(opts.interval)) throw new UsageError(`--interval must be one of ${INTERVALS.join(', ')}`)
        const { report, scope } = await withGateway(cmd, async (deps) => {
          const at = now(deps)
          const input = {
            from: parseSince(opts.since, at),
            to: opts.until ? parseSince(opts.until, at, '--until') : undefined,
            interval: opts.interval as Interval,
            tz: opts.tz,
            group_by: opts.by as GroupBy | undefined,
            channel: opts.channel,
          }
          if (!opts.namespace) return { report: await messageAnalytics(deps, { namespaceId: null }, input), scope: 'all namespaces' }
          const ns = await getNamespace(deps, opts.namespace)
          return { report: await messageAnalytics(deps, { namespaceId: ns.id }, input), scope: `namespace ${ns.slug}` }
        })
        const out = globals(cmd)
        if (out.json) {
          console.log(JSON.stringify(report, null, 2))
          return
        }
        console.log(`Messages in ${scope}, ${report.from} to ${report.to} (${report.tz})\n`)
        printTable(out, totalsRows(report))
        const latency = report.latency_ms
        console.log(
          [
            '',
            `delivery rate  ${percent(report.delivery_rate)}   (delivered ÷ sent)`,
            `failure rate   ${percent(report.failure_rate)}   (failed ÷ queued)`,
            `accept → sent      p50 ${ms(latency.accept_to_sent.p50)}  p95 ${ms(latency.accept_to_sent.p95)}  p99 ${ms(latency.accept_to_sent.p99)}`,
            `sent → delivered   p50 ${ms(latency.sent_to_delivered.p50)}  p95 ${ms(latency.sent_to_delivered.p95)}  p99 ${ms(latency.sent_to_delivered.p99)}`,
            '',
            'Top failures:',
          ].join('\n'),
        )
        printTable(out, report.top_failures.map((f) => ({ code: f.code, count: f.count })))
      }),
    )
}
