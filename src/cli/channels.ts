import type { Command } from 'commander'
import { channelView, createChannel, getChannel, listChannels, testChannel } from '../domain/channels'
import { invalidField } from '../domain/errors'
import { getNamespace } from '../domain/namespaces'
import { action, globals, printJson, printTable, UsageError, withGateway } from './context'

/** `--set key=value` pairs (repeatable); values that parse as JSON are taken as JSON. */
function collectSet(pair: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = pair.indexOf('=')
  if (eq <= 0) throw new UsageError(`--set expects key=value, got "${pair}"`)
  const [key, raw] = [pair.slice(0, eq), pair.slice(eq + 1)]
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // a plain string
  }
  return { ...previous, [key]: value }
}

function parseConfigJson(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {}
  try {
    const value = JSON.parse(text)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error()
    return value
  } catch {
    throw new UsageError('--config-json must be a JSON object, e.g. \'{"url": "https://example.com/hook"}\'')
  }
}

export function registerChannels(program: Command): void {
  const channel = program.command('channel').description('provider connections of a namespace')
  channel
    .command('add <name>')
    .description('add a channel')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .requiredOption('--type <type>', 'connector type: sandbox, http, …')
    .option('--config-json <json>', 'connector config as a JSON object')
    .option('--set <key=value>', 'one connector config value (repeatable)', collectSet)
    .action(
      action(async (name: string, opts: { namespace: string; type: string; configJson?: string; set?: Record<string, unknown> }, cmd: Command) => {
        const config = { ...parseConfigJson(opts.configJson), ...opts.set }
        const view = await withGateway(cmd, async (deps) => {
          const ns = await getNamespace(deps, opts.namespace)
          return channelView(deps, await createChannel(deps, ns.id, { name, type: opts.type, config }))
        })
        if (globals(cmd).json) printJson(view)
        else console.log(`created channel ${view.name} (${view.type}, ${view.id})`)
      }),
    )
  channel
    .command('list')
    .description('list channels')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .action(
      action(async (opts: { namespace: string }, cmd: Command) => {
        const views = await withGateway(cmd, async (deps) => {
          const ns = await getNamespace(deps, opts.namespace)
          return (await listChannels(deps, ns.id)).map((c) => channelView(deps, c))
        })
        printTable(globals(cmd), views.map((v) => ({ name: v.name, type: v.type, status: v.status, id: v.id, config: v.config })), views)
      }),
    )
  channel
    .command('test <channel>')
    .description("check a channel's credentials with its provider")
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .action(
      action(async (ref: string, opts: { namespace: string }, cmd: Command) => {
        const result = await withGateway(cmd, async (deps) => testChannel(deps, (await getNamespace(deps, opts.namespace)).id, ref))
        console.log(`${result.ok ? 'ok' : 'failed'}${result.detail ? `: ${result.detail}` : ''}`)
        if (!result.ok) process.exitCode = 1
      }),
    )
  channel
    .command('vapid-keys <channel>')
    .description("print a webpush channel's VAPID public key (the applicationServerKey browsers subscribe with)")
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .action(
      action(async (ref: string, opts: { namespace: string }, cmd: Command) => {
        const view = await withGateway(cmd, async (deps) => {
          const ns = await getNamespace(deps, opts.namespace)
          return channelView(deps, await getChannel(deps, ns.id, ref))
        })
        if (view.type !== 'webpush') throw invalidField('channel', `"${view.name}" is a ${view.type} channel; only webpush channels have VAPID keys`)
        // The view masks the private key; the public one is meant to be shared.
        const publicKey = String(view.config.vapid_public_key)
        if (globals(cmd).json) printJson({ channel: view.name, vapid_public_key: publicKey })
        else console.log(publicKey)
      }),
    )
}
