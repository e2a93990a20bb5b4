import type { Command } from 'commander'
import { getNamespace } from '../domain/namespaces'
import { listMessagesSchema, sendMessageSchema } from '../domain/messages/input'
import { getMessage, listMessages } from '../domain/messages/query'
import { sendMessage } from '../domain/messages/send'
import { errors } from '../domain/errors'
import { zodFieldErrors } from '../lib/zod-errors'
import { action, globals, printJson, printTable, UsageError, withGateway } from './context'

const FINAL = new Set(['sent', 'delivered', 'read', 'failed', 'cancelled', 'expired'])

function keyValues(pair: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = pair.indexOf('=')
  if (eq <= 0) throw new UsageError(`--metadata expects key=value, got "${pair}"`)
  return { ...previous, [pair.slice(0, eq)]: pair.slice(eq + 1) }
}

function parsed<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: any } }, value: unknown): T {
  const result = schema.safeParse(value)
  if (!result.success) throw errors.validation('invalid input', zodFieldErrors(result.error))
  return result.data
}

export function registerMessages(program: Command): void {
  program
    .command('send')
    .description('send a message (the running gateway dispatches it)')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .requiredOption('--channel <name>', 'channel name or id')
    .requiredOption('--to <recipient>', 'recipient address (a JSON object for object recipients)')
    .option('--text <text>', 'text content')
    .option('--html <html>', 'HTML content')
    .option('--subject <subject>', 'subject')
    .option('--from <terminal>', 'terminal address or id')
    .option('--send-at <time>', 'RFC 3339 time to send at')
    .option('--metadata <key=value>', 'metadata (repeatable)', keyValues)
    .option('--options-json <json>', 'channel-specific options as a JSON object')
    .option('--wait [seconds]', 'wait until the message is final (a gateway must be running)')
    .action(
      action(async (opts: Record<string, any>, cmd: Command) => {
        let options: unknown
        let to: unknown = opts.to
        try {
          options = opts.optionsJson === undefined ? undefined : JSON.parse(opts.optionsJson)
          if (typeof to === 'string' && to.startsWith('{')) to = JSON.parse(to)
        } catch {
          throw new UsageError('--options-json and an object --to must be valid JSON')
        }
        const input = parsed(sendMessageSchema, {
          channel: opts.channel,
          to,
          from: opts.from,
          content: { text: opts.text, html: opts.html, subject: opts.subject },
          metadata: opts.metadata,
          send_at: opts.sendAt,
          options,
        })
        const waitSeconds = opts.wait === undefined ? 0 : opts.wait === true ? 30 : Number(opts.wait)
        if (!(waitSeconds >= 0)) throw new UsageError('--wait takes a number of seconds')
        const result = await withGateway(cmd, async (deps) => {
          const ns = await getNamespace(deps, opts.namespace)
          const accepted = (await sendMessage(deps, ns.id, input)).body as { id: string; status: string }
          const deadline = Date.now() + waitSeconds * 1000
          let message = await getMessage(deps, ns.id, accepted.id)
          while (!FINAL.has(message.status) && Date.now() < deadline) {
            await Bun.sleep(200)
            message = await getMessage(deps, ns.id, accepted.id)
          }
          return message
        })
        if (globals(cmd).json) printJson(result)
        else console.log(`${result.id} ${result.status}${result.error ? ` (${result.error.code}: ${result.error.message})` : ''}`)
        if (result.status === 'failed') process.exitCode = 1
      }),
    )

  const messages = program.command('messages').description('read messages')
  messages
    .command('list')
    .description('list messages, newest first')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .option('--status <status>', 'only this status')
    .option('--channel <name>', 'only this channel')
    .option('--direction <dir>', 'outbound or inbound')
    .option('--limit <n>', 'how many', '20')
    .action(
      action(async (opts: Record<string, string>, cmd: Command) => {
        const query = parsed(listMessagesSchema, { status: opts.status, channel: opts.channel, direction: opts.direction, limit: opts.limit })
        const page = await withGateway(cmd, async (deps) => listMessages(deps, (await getNamespace(deps, opts.namespace!)).id, query))
        printTable(
          globals(cmd),
          page.data.map((m) => ({ id: m.id, status: m.status, channel: m.channel.name, to: m.to, attempts: m.attempts, created: m.created_at })),
          page,
        )
      }),
    )
  messages
    .command('show <id>')
    .description('a message with its event timeline')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .action(
      action(async (id: string, opts: { namespace: string }, cmd: Command) => {
        const m = await withGateway(cmd, async (deps) => getMessage(deps, (await getNamespace(deps, opts.namespace)).id, id))
        if (globals(cmd).json) return printJson(m)
        console.log(`${m.id}  ${m.status}  ${m.channel.name} (${m.channel.type})  to ${typeof m.to === 'string' ? m.to : JSON.stringify(m.to)}`)
        if (m.error) console.log(`error: ${m.error.code}: ${m.error.message}`)
        for (const e of m.events) {
          console.log(`  ${e.at}  ${e.status.padEnd(9)}${e.attempt ? ` attempt ${e.attempt}` : ''}${e.error ? `  ${e.error.code}: ${e.error.message}` : ''}`)
        }
      }),
    )
}
