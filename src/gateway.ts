/**
 * Opening the gateway from a config: store, migrations, master key, the domain's dependencies,
 * and the config's declared namespaces. `serve` adds the engine and the HTTP server on top;
 * CLI commands use the same opening so they see exactly what the server sees.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { type Config, publicUrl } from './config'
import type { Deps } from './domain/deps'
import { ensureSigningKey, masterKeyOpensSecrets } from './domain/identity/signing-keys'
import { ensureInstanceAdmin } from './domain/identity/users'
import { trustProxies } from './http/client-ip'
import { reconcileNamespaces } from './domain/namespaces/reconcile'
import type { Logger } from './lib/log'
import { createMailer } from './lib/mailer'
import { generateMasterKey, SecretBox } from './lib/secrets'
import { createGuardedFetch } from './lib/url-guard'
import { migrate, pendingMigrations } from './store/migrate'
import { databaseFilePath, openStore, type StoreOptions } from './store/open'

/** Provider responses larger than this are cut: a connector only needs the status and an id. */
const MAX_PROVIDER_RESPONSE_BYTES = 1024 * 1024

export class StartupError extends Error {}

/** The master key given is not the one the stored secrets were sealed with (a configuration mistake: exit 2). */
export class MasterKeyError extends StartupError {}

/** The directory of an embedded database file (where demo mode keeps its master key). */
export function dataDir(config: Config): string {
  const file = databaseFilePath(config.database.url)
  return file !== null ? dirname(resolve(file)) : resolve('data')
}

/** The master key: the configured one, or in demo mode the one kept in the data directory (made on first use). */
export function masterKey(config: Config, demo: boolean): string {
  if (config.security.master_key) return config.security.master_key
  if (!demo) {
    throw new StartupError(
      'security.master_key is not set: with a config file it is required (32 random bytes, base64; e.g. master_key = "${OMNIGATE_MASTER_KEY}")',
    )
  }
  // Demo mode: a key generated once into the data directory, readable by this user only.
  const path = join(dataDir(config), 'master.key')
  if (existsSync(path)) return readFileSync(path, 'utf8').trim()
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${generateMasterKey()}\n`, { mode: 0o600 })
  chmodSync(path, 0o600)
  return readFileSync(path, 'utf8').trim()
}

/** The store settings of a config (also for `omnigate migrate`, which opens only the store). */
export function storeOptions(config: Config): StoreOptions {
  return {
    url: config.database.url,
    synchronous: config.database.synchronous,
    busyTimeoutMs: config.database.busy_timeout_ms,
    cacheMb: config.database.cache_mb,
    authToken: config.database.auth_token,
    requestTimeoutMs: config.database.request_timeout_ms,
  }
}

export interface OpenOptions {
  config: Config
  /** Started with no config file. */
  demo: boolean
  log: Logger
  /** Apply pending migrations (serve with auto_migrate, and `migrate`). */
  migrate: boolean
}

export async function openGateway(opts: OpenOptions): Promise<Deps> {
  const { config } = opts
  const box = new SecretBox(masterKey(config, opts.demo))
  const file = databaseFilePath(config.database.url)
  if (!opts.migrate && file !== null && !existsSync(file)) {
    // Opening would create an empty database only to refuse it for its missing schema.
    throw new StartupError(`database.auto_migrate is false and there is no database at ${resolve(file)}: run "omnigate migrate" to create it`)
  }
  const store = await openStore(storeOptions(config))
  try {
    if (opts.migrate) {
      const applied = await migrate(store)
      if (applied.length > 0) opts.log.info('migrations applied', { migrations: applied.join(',') })
    } else {
      // auto_migrate = false: an outdated (or newer) schema is refused, never served.
      const pending = await pendingMigrations(store)
      if (pending.length > 0) {
        throw new StartupError(
          `database.auto_migrate is false and the database lacks migration(s) ${pending.join(', ')}: run "omnigate migrate" first`,
        )
      }
    }
    const deps: Deps = {
      store,
      box,
      publicUrl: publicUrl(config),
      config,
      limits: {
        maxAttachmentBytes: config.messages.max_attachment_bytes,
        maxBatch: config.messages.max_batch,
        allowPrivateNetwork: config.security.allow_private_network,
        tokenAlg: config.security.token_alg,
        accessTokenTtlSeconds: config.security.access_token_ttl_seconds,
        sessionTtlHours: config.security.session_ttl_hours,
        namespaceRequestsPerSecond: config.limits.namespace_requests_per_second,
        applicationRequestsPerSecond: config.limits.application_requests_per_second,
        messagesPerDay: config.limits.messages_per_day,
        messagesPerMonth: config.limits.messages_per_month,
        loginAttemptsPerMinute: config.limits.login_attempts_per_minute,
      },
      fetch: createGuardedFetch({
        allowPrivateNetwork: config.security.allow_private_network,
        defaultTimeoutMs: config.engine.send_timeout_ms,
        maxResponseBytes: MAX_PROVIDER_RESPONSE_BYTES,
      }),
      mailer: createMailer(config.mail, opts.log),
    }
    trustProxies(deps, config.server.trusted_proxies)
    await ensureSigningKey(deps, config.security.token_alg)
    // A master key other than the one the secrets were sealed with would start a gateway that
    // fails every send ("cannot be decrypted"): refused here, with the way out.
    if (!(await masterKeyOpensSecrets(deps))) {
      const where = config.security.master_key ? 'security.master_key' : `the demo master key (${join(dataDir(config), 'master.key')})`
      throw new MasterKeyError(
        `${where} does not open the secrets stored in this database: it is not the key they were sealed with. Use that key (omnigate keys rotate-master changes it)`,
      )
    }
    const admin = await ensureInstanceAdmin(deps, config.admin)
    if (admin) opts.log.info('instance admin created from [admin]', { user_id: admin.id })
    if (config.namespaces.length > 0) {
      const report = await reconcileNamespaces(deps, config.namespaces)
      if (report.created.length + report.updated.length > 0) opts.log.info('config reconciled', { ...report })
    }
    return deps
  } catch (error) {
    await store.close()
    throw error
  }
}
