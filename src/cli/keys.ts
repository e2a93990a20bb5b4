/**
 * `omnigate keys` (token signing keys and the master key) and `omnigate client` (OAuth client
 * credentials of an application).
 */
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { getApplication } from '../domain/identity/applications'
import { clientView, createClient, listClients, revokeClient } from '../domain/identity/clients'
import { MasterKeyMismatchError, rotateMasterKey } from '../domain/identity/rotate-master'
import { ROTATION_OVERLAP_MS, rotateSigningKeys } from '../domain/identity/signing-keys'
import { getNamespace } from '../domain/namespaces'
import { dataDir } from '../gateway'
import { SecretBox } from '../lib/secrets'
import { databaseFilePath } from '../store/open'
import { action, credentialFlags, globals, loadCliConfig, printJson, printTable, UsageError, withGateway } from './context'
import { refuseIfOpen } from './backup'

const NS_OPTION = ['-n, --namespace <slug>', 'namespace slug or id', 'demo'] as const
/** 32 bytes in standard base64, as `openssl rand -base64 32` prints them. */
const MASTER_KEY_FORMAT = /^[A-Za-z0-9+/]{43}=$/

/** The first line of standard input; a person at a terminal is asked for it. */
async function readLine(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) return (await Bun.stdin.text()).split(/\r?\n/)[0]!.trim()
  process.stderr.write(prompt)
  for await (const line of console) return line.trim()
  return ''
}

async function readNewMasterKey(): Promise<string> {
  const key = await readLine('new master key (32 random bytes, base64): ')
  if (!key) throw new UsageError('give the new master key on standard input (e.g. openssl rand -base64 32 | omnigate keys rotate-master)')
  if (!MASTER_KEY_FORMAT.test(key)) throw new UsageError('the new master key must be 32 bytes, base64-encoded (e.g. openssl rand -base64 32)')
  return key
}

function registerKeys(program: Command): void {
  const keys = program.command('keys').description('token signing keys and the master key')
  keys
    .command('rotate')
    .description('a new token signing key; the previous one keeps verifying for 24 h')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const rotated = await withGateway(cmd, (deps, config) => rotateSigningKeys(deps, config.security.token_alg))
        if (globals(cmd).json) return printJson(rotated)
        console.log(`new signing key ${rotated.kid} (${rotated.alg}); the previous key verifies tokens for ${ROTATION_OVERLAP_MS / 3_600_000} h more`)
      }),
    )
  keys
    .command('rotate-master')
    .description('re-encrypt every stored secret with a new master key, read from standard input (stop the server first)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const newKey = await readNewMasterKey()
        const newBox = new SecretBox(newKey)
        const { config, demo } = loadCliConfig(globals(cmd))
        // A running gateway would go on sealing with the old key: the same check as restore's.
        const file = databaseFilePath(config.database.url)
        if (file !== null && existsSync(file)) refuseIfOpen(resolve(file), 'keys rotate-master')
        // Demo mode keeps its key in a file, unless the environment sets one.
        const keyFile = demo && !config.security.master_key ? join(dataDir(config), 'master.key') : null
        const result = await withGateway(cmd, async (deps) => {
          const oldKey = keyFile ? readFileSync(keyFile, 'utf8').trim() : config.security.master_key
          if (oldKey === newKey) throw new UsageError('the new master key is the current one')
          if (!keyFile) return rotateMasterKey(deps.store, deps.box, newBox)
          // The new key is on disk before the commit, so a crash in between cannot lose it.
          const pending = `${keyFile}.new`
          rmSync(pending, { force: true })
          writeFileSync(pending, `${newKey}\n`, { mode: 0o600 })
          try {
            const counts = await rotateMasterKey(deps.store, deps.box, newBox)
            renameSync(pending, keyFile)
            chmodSync(keyFile, 0o600)
            return counts
          } catch (error) {
            rmSync(pending, { force: true })
            throw error
          }
        }).catch((error) => {
          throw error instanceof MasterKeyMismatchError ? new UsageError(error.message) : error
        })
        if (globals(cmd).json) return printJson({ ...result, key_file: keyFile })
        console.log(
          `re-encrypted ${result.channels} channel config(s), ${result.webhooks} webhook secret set(s) and ${result.signingKeys} signing key(s) with the new master key`,
        )
        if (keyFile) console.log(`the new master key is in ${keyFile}`)
        else console.log('security.master_key must now be set to the new key before the next start: the old key no longer opens the stored secrets')
      }),
    )
}

function registerClients(program: Command): void {
  const client = program.command('client').description('OAuth2 client credentials of an application')
  client
    .command('create')
    .description('new client credentials; prints the secret once')
    .option(...NS_OPTION)
    .requiredOption('--app <name>', 'application name or id')
    .option('--name <name>', 'a label for the client')
    .option('--scopes <list>', 'comma-separated scopes (default: all)')
    .option('--expires-in-days <n>', 'expire after this many days')
    .action(
      action(async (opts: { namespace: string; app: string; name?: string; scopes?: string; expiresInDays?: string }, cmd: Command) => {
        const flags = credentialFlags(opts)
        const created = await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, opts.namespace)
          const application = await getApplication(deps, namespace.id, opts.app)
          return createClient(deps, namespace.id, {
            applicationId: application.id,
            name: opts.name,
            ...flags,
          })
        })
        if (globals(cmd).json) return printJson({ ...clientView(created.client), client_secret: created.secret })
        console.log(`created OAuth client for ${opts.app}; the secret is shown only now:`)
        console.log(`client_id:     ${created.client.id}`)
        console.log(`client_secret: ${created.secret}`)
      }),
    )
  client
    .command('list')
    .description('list OAuth clients (never their secrets)')
    .option(...NS_OPTION)
    .option('--app <name>', 'only this application')
    .action(
      action(async (opts: { namespace: string; app?: string }, cmd: Command) => {
        const rows = await withGateway(cmd, async (deps) => {
          const namespace = await getNamespace(deps, opts.namespace)
          const app = opts.app ? await getApplication(deps, namespace.id, opts.app) : undefined
          return listClients(deps, namespace.id, app?.id)
        })
        const views = rows.map(clientView)
        printTable(
          globals(cmd),
          views.map((v) => ({ client_id: v.client_id, app: v.application_id, name: v.name, scopes: v.scopes.length, revoked: v.revoked_at, expires: v.expires_at })),
          views,
        )
      }),
    )
  client
    .command('revoke <client-id>')
    .description('revoke a client; its tokens stop working within a second')
    .option(...NS_OPTION)
    .action(
      action(async (clientId: string, opts: { namespace: string }, cmd: Command) => {
        const row = await withGateway(cmd, async (deps) => revokeClient(deps, (await getNamespace(deps, opts.namespace)).id, clientId))
        if (globals(cmd).json) printJson(clientView(row))
        else console.log(`revoked OAuth client ${row.id}`)
      }),
    )
}

export function registerKeysAndClients(program: Command): void {
  registerKeys(program)
  registerClients(program)
}
