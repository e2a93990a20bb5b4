import type { Command } from 'commander'
import { createNamespace, getNamespace, listNamespaces, namespaceView } from '../domain/namespaces'
import { applicationView, createApplication, getApplication, listApplications } from '../domain/identity/applications'
import { apiKeyView, createApiKey, listApiKeys, revokeApiKey } from '../domain/identity/api-keys'
import { action, credentialFlags, globals, printJson, printTable, UsageError, withGateway } from './context'
import { provisionFromCli, registerNamespaceLifecycle } from './provision'

const NS_OPTION = ['-n, --namespace <slug>', 'namespace slug or id', 'demo'] as const

export function registerNamespaces(program: Command): void {
  const ns = program.command('namespace').description('tenants')
  ns.command('create <slug>')
    .description('create a namespace; with --plan or --owner, provision it as signup does (sandbox channel, application and API key, plan quotas)')
    .option('--name <name>', 'display name')
    .option('--plan <plan>', 'provision with this plan of [[plans]]')
    .option('--owner <email>', 'provision with this owner (invited by mail when they have no account)')
    .action(
      action(async (slug: string, opts: { name?: string; plan?: string; owner?: string }, cmd: Command) => {
        if (opts.plan !== undefined || opts.owner !== undefined) {
          if (opts.name !== undefined) throw new UsageError('--name cannot be combined with --plan or --owner (a provisioned namespace is named by its slug)')
          return provisionFromCli(cmd, slug, opts)
        }
        const row = await withGateway(cmd, (deps) => createNamespace(deps, { slug, name: opts.name }))
        if (globals(cmd).json) printJson(namespaceView(row))
        else console.log(`created namespace ${row.slug} (${row.id})`)
      }),
    )
  registerNamespaceLifecycle(ns)
  ns.command('list')
    .description('list namespaces')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const rows = await withGateway(cmd, (deps) => listNamespaces(deps))
        const views = rows.map(namespaceView)
        printTable(globals(cmd), views.map((v) => ({ slug: v.slug, name: v.name, status: v.status, id: v.id, created: v.created_at })), views)
      }),
    )

  const app = program.command('app').description('client applications of a namespace')
  app
    .command('create <name>')
    .description('create an application')
    .option(...NS_OPTION)
    .option('--description <text>', 'what it is for')
    .action(
      action(async (name: string, opts: { namespace: string; description?: string }, cmd: Command) => {
        const row = await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, opts.namespace)
          return createApplication(deps, namespace.id, { name, description: opts.description })
        })
        if (globals(cmd).json) printJson(applicationView(row))
        else console.log(`created application ${row.name} (${row.id})`)
      }),
    )
  app
    .command('list')
    .description('list applications')
    .option(...NS_OPTION)
    .action(
      action(async (opts: { namespace: string }, cmd: Command) => {
        const rows = await withGateway(cmd, async (deps) => listApplications(deps, (await getNamespace(deps, opts.namespace)).id))
        printTable(globals(cmd), rows.map(applicationView))
      }),
    )

  const key = program.command('key').description('API keys')
  key
    .command('create')
    .description('create an API key; prints it once')
    .option(...NS_OPTION)
    .requiredOption('--app <name>', 'application name or id')
    .option('--name <name>', 'a label for the key')
    .option('--scopes <list>', 'comma-separated scopes (default: all)')
    .option('--expires-in-days <n>', 'expire after this many days')
    .action(
      action(async (opts: { namespace: string; app: string; name?: string; scopes?: string; expiresInDays?: string }, cmd: Command) => {
        const flags = credentialFlags(opts)
        const created = await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, opts.namespace)
          const application = await getApplication(deps, namespace.id, opts.app)
          return createApiKey(deps, namespace.id, {
            applicationId: application.id,
            name: opts.name,
            ...flags,
          })
        })
        if (globals(cmd).json) printJson({ ...apiKeyView(created.key), key: created.secret })
        else {
          console.log(`created API key ${created.key.id}; it is shown only now:`)
          console.log(created.secret)
        }
      }),
    )
  key
    .command('list')
    .description('list API keys (never their secrets)')
    .option(...NS_OPTION)
    .action(
      action(async (opts: { namespace: string }, cmd: Command) => {
        const rows = await withGateway(cmd, async (deps) => listApiKeys(deps, (await getNamespace(deps, opts.namespace)).id))
        const views = rows.map(apiKeyView)
        printTable(
          globals(cmd),
          views.map((v) => ({ id: v.id, prefix: v.prefix, name: v.name, scopes: v.scopes.length, revoked: v.revoked_at, expires: v.expires_at, last_used: v.last_used_at })),
          views,
        )
      }),
    )
  key
    .command('revoke <id>')
    .description('revoke an API key; it stops working within a second')
    .option(...NS_OPTION)
    .action(
      action(async (id: string, opts: { namespace: string }, cmd: Command) => {
        const row = await withGateway(cmd, async (deps) => revokeApiKey(deps, (await getNamespace(deps, opts.namespace)).id, id))
        if (globals(cmd).json) printJson(apiKeyView(row))
        else console.log(`revoked API key ${row.id}`)
      }),
    )
}
