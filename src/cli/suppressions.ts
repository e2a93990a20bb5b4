import type { Command } from 'commander'
import { getNamespace } from '../domain/namespaces'
import { addSuppression, listSuppressions, removeSuppression } from '../domain/suppressions'
import { action, globals, limitFlag, printJson, printTable, withGateway } from './context'

export function registerSuppressions(program: Command): void {
  const cmd = program.command('suppression').description('recipients that are never sent to (bounces, complaints, opt-outs)')
  cmd
    .command('list')
    .description('list suppressed recipients, newest first')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .option('--type <channel-type>', 'only this channel type')
    .option('--limit <n>', 'how many', '50')
    .action(
      action(async (opts: { namespace: string; type?: string; limit: string }, cmd: Command) => {
        const page = await withGateway(cmd, async (deps) =>
          listSuppressions(deps, (await getNamespace(deps, opts.namespace)).id, { channel_type: opts.type, limit: limitFlag(opts.limit, 100) }),
        )
        printTable(
          globals(cmd),
          page.data.map((s) => ({ type: s.channel_type, recipient: s.recipient, reason: s.reason, since: s.created_at })),
          page,
        )
      }),
    )
  cmd
    .command('add <channel-type> <recipient>')
    .description('stop sending to a recipient on one type of channel')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .option('--detail <text>', 'why')
    .action(
      action(async (channelType: string, recipient: string, opts: { namespace: string; detail?: string }, cmd: Command) => {
        await withGateway(cmd, async (deps) =>
          addSuppression(deps, (await getNamespace(deps, opts.namespace)).id, { channel_type: channelType, recipient, detail: opts.detail }),
        )
        if (globals(cmd).json) printJson({ suppressed: true, channel_type: channelType, recipient })
        else console.log(`suppressed ${recipient} on ${channelType} channels`)
      }),
    )
  cmd
    .command('remove <channel-type> <recipient>')
    .description('allow sending to a recipient again')
    .option('-n, --namespace <slug>', 'namespace slug or id', 'demo')
    .action(
      action(async (channelType: string, recipient: string, opts: { namespace: string }, cmd: Command) => {
        await withGateway(cmd, async (deps) => removeSuppression(deps, (await getNamespace(deps, opts.namespace)).id, channelType, recipient))
        if (globals(cmd).json) printJson({ removed: true, channel_type: channelType, recipient })
        else console.log(`removed ${recipient} from the ${channelType} suppression list`)
      }),
    )
}
