/** `omnigate user …`: the instance's accounts (list, disable, enable). */
import type { Command } from 'commander'
import { recordAudit } from '../domain/audit'
import { now } from '../domain/deps'
import { listUsers, setUserDisabled } from '../domain/instance/users'
import { action, globals, limitFlag, printJson, printTable, withGateway } from './context'

export function registerUsers(program: Command): void {
  const user = program.command('user').description("the instance's user accounts")
  user
    .command('list')
    .description('list users, newest first, with their namespaces and roles')
    .option('--email <text>', 'only addresses containing this text')
    .option('--limit <n>', 'at most this many', '200')
    .action(
      action(async (opts: { email?: string; limit: string }, cmd: Command) => {
        const limit = limitFlag(opts.limit, 1000)
        const page = await withGateway(cmd, (deps) => listUsers(deps, { limit, email: opts.email }))
        const rows = page.data.map((u) => ({
          email: u.email,
          status: u.disabled ? 'disabled' : 'active',
          admin: u.instance_admin ? 'yes' : '',
          namespaces: u.namespaces.map((m) => `${m.namespace} (${m.role})`).join(', '),
          id: u.id,
        }))
        printTable(globals(cmd), rows, page.data)
      }),
    )
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(`${name} <email>`)
      .description(disabled ? 'disable an account: it cannot sign in, and its sessions end now' : 'enable a disabled account again')
      .action(
        action(async (email: string, _opts: unknown, cmd: Command) => {
          const view = await withGateway(cmd, async (deps) => {
            const user = await setUserDisabled(deps, null, email, disabled)
            await recordAudit(deps.store, { namespaceId: null, actor: { type: 'system', id: null }, action: `cli user ${name}`, resource: { type: 'user', id: user.id }, at: now(deps) })
            return user
          })
          if (globals(cmd).json) printJson(view)
          else console.log(`${view.email} is ${view.disabled ? 'disabled' : 'enabled'}`)
        }),
      )
  }
}
