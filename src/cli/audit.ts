import type { Command } from 'commander'
import { listAudit, listInstanceAudit } from '../domain/audit'
import { now } from '../domain/deps'
import { getNamespace } from '../domain/namespaces'
import { action, globals, limitFlag, printTable, UsageError, withGateway } from './context'

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `24h`, `30m`, `7d`, `90s` ago, or an RFC 3339 time, as an ISO string; errors name `flag`. */
export function parseSince(value: string, at: number, flag = '--since'): string {
  const relative = /^(\d{1,6})([smhd])$/.exec(value)
  if (relative) return new Date(at - Number(relative[1]) * UNITS[relative[2]!]!).toISOString()
  if (/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(Date.parse(value)).toISOString()
  throw new UsageError(`${flag}: "${value}" is neither a duration (30m, 24h, 7d) nor a time (2026-01-31T12:00:00Z)`)
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('the audit log, newest first: who changed what, when, from where')
    .option('-n, --namespace <slug>', 'one namespace (default: every namespace and instance-level entries)')
    .option('--since <when>', 'entries since a duration ago (30m, 24h, 7d) or a time')
    .option('--action <action>', 'only this action, e.g. "DELETE /v1/namespaces/{ns}/channels/{channel}"')
    .option('--actor <id>', 'only this user or application id')
    .option('--limit <n>', 'how many (1-1000)', '50')
    .action(
      action(async (opts: { namespace?: string; since?: string; action?: string; actor?: string; limit: string }, cmd: Command) => {
        const limit = limitFlag(opts.limit, 1000)
        const page = await withGateway(cmd, async (deps) => {
          const query = {
            limit,
            since: opts.since ? parseSince(opts.since, now(deps)) : undefined,
            action: opts.action,
            actor_id: opts.actor,
          }
          if (!opts.namespace) return listInstanceAudit(deps, query)
          return listAudit(deps, (await getNamespace(deps, opts.namespace)).id, query)
        })
        printTable(
          globals(cmd),
          page.data.map((e) => ({
            time: e.created_at,
            ...(opts.namespace ? {} : { namespace: 'namespace' in e ? (e.namespace ?? '-') : '-' }),
            actor: `${e.actor_type}${e.actor_id ? ` ${e.actor_id}` : ''}`,
            action: e.action,
            resource: `${e.resource_type}${e.resource_id ? ` ${e.resource_id}` : ''}`,
            ip: e.ip,
          })),
          page,
        )
      }),
    )
}
