import type { Command } from 'commander'
import { getNamespace } from '../domain/namespaces'
import { listDeliveries, recoverDeliveries, retryDelivery } from '../domain/webhooks/deliveries'
import { createWebhook, listWebhooks, webhookView } from '../domain/webhooks/endpoints'
import { action, globals, limitFlag, printJson, printTable, UsageError, withGateway } from './context'

const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean)

export function registerWebhooks(program: Command): void {
  const cmd = program.command('webhook').description('event webhooks of a namespace')
  cmd
    .command('add <url>')
    .description('add an endpoint; prints its signing secret once')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .option('--events <types>', 'comma-separated event types (default: all)')
    .option('--channels <names>', 'comma-separated channel names: only their events')
    .option('--description <text>', 'what it is for')
    .action(
      action(async (url: string, opts: { namespace: string; events?: string; channels?: string; description?: string }, cmd: Command) => {
        const created = await withGateway(cmd, async (deps) =>
          createWebhook(deps, (await getNamespace(deps, opts.namespace)).id, {
            url,
            description: opts.description,
            event_types: opts.events ? list(opts.events) : undefined,
            channels: opts.channels ? list(opts.channels) : undefined,
          }),
        )
        if (globals(cmd).json) return printJson({ id: created.webhook.id, url, secret: created.secret })
        console.log(`created webhook ${created.webhook.id}; its signing secret, shown only now:`)
        console.log(created.secret)
      }),
    )
  cmd
    .command('list')
    .description('list endpoints')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .action(
      action(async (opts: { namespace: string }, cmd: Command) => {
        const views = await withGateway(cmd, async (deps) =>
          (await listWebhooks(deps, (await getNamespace(deps, opts.namespace)).id)).map((w) => webhookView(deps, w)),
        )
        printTable(
          globals(cmd),
          views.map((v) => ({ id: v.id, url: v.url, events: v.event_types.join(','), enabled: v.enabled, failing_since: v.failing_since })),
          views,
        )
      }),
    )
  cmd
    .command('deliveries <webhook-id>')
    .description("an endpoint's deliveries, newest first")
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .option('--status <status>', 'pending, succeeded or failed')
    .option('--limit <n>', 'how many', '20')
    .action(
      action(async (webhookId: string, opts: { namespace: string; status?: string; limit: string }, cmd: Command) => {
        if (opts.status && !['pending', 'succeeded', 'failed'].includes(opts.status)) throw new UsageError('--status must be pending, succeeded or failed')
        const page = await withGateway(cmd, async (deps) =>
          listDeliveries(deps, (await getNamespace(deps, opts.namespace)).id, webhookId, {
            limit: limitFlag(opts.limit, 100),
            status: opts.status as 'pending' | undefined,
          }),
        )
        printTable(
          globals(cmd),
          page.data.map((d) => ({ id: d.id, event: d.event_type, status: d.status, attempts: d.attempts, last_code: d.last_status_code, created: d.created_at })),
          page,
        )
      }),
    )
  cmd
    .command('replay <webhook-id> [delivery-id]')
    .description('send one delivery again, or with --since every failed delivery since a time')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .option('--since <time>', 'RFC 3339 time: recover every failed delivery since then')
    .action(
      action(async (webhookId: string, deliveryId: string | undefined, opts: { namespace: string; since?: string }, cmd: Command) => {
        if (!deliveryId && !opts.since) throw new UsageError('give a delivery id, or --since to recover every failed delivery')
        const result = await withGateway(cmd, async (deps) => {
          const ns = (await getNamespace(deps, opts.namespace)).id
          return deliveryId ? retryDelivery(deps, ns, webhookId, deliveryId).then(() => 1) : recoverDeliveries(deps, ns, webhookId, opts.since!).then((r) => r.recovered)
        })
        if (globals(cmd).json) printJson({ queued: result })
        else console.log(`queued ${result} deliver${result === 1 ? 'y' : 'ies'} again`)
      }),
    )
}
