/**
 * nodemailer transports per channel. With `pool` (the default) one pooled transport per channel
 * is kept and reused across sends: a new config (any change: its hash is part of the key) retires
 * the old pool, a pool unused for a while is closed, and closeSmtpTransports() closes them all
 * when the dispatcher stops. Without `pool`, each send opens and closes its own connection.
 */
import { createHash } from 'node:crypto'
import { isIP } from '../../lib/ip'
import type nodemailer from 'nodemailer'
import type { SmtpConfig } from './config'

// Timeouts below the dispatcher's send timeout would be ideal; these bound a silent server when
// the dispatcher's abort does not reach the socket (health checks).
const CONNECTION_TIMEOUT_MS = 10_000
const GREETING_TIMEOUT_MS = 10_000
const SOCKET_TIMEOUT_MS = 30_000
// A few parallel connections per channel: most submission servers limit clients to about five.
const POOL_MAX_CONNECTIONS = 5
// Reconnect after 100 messages: some servers cap messages per connection.
const POOL_MAX_MESSAGES = 100
// An idle pooled connection is closed after a minute; the server would drop it soon anyway.
const POOL_IDLE_CONNECTION_MS = 60_000
// A pool nobody used for five minutes is dropped from the cache altogether.
const POOL_IDLE_CLOSE_MS = 5 * 60_000

type Transporter = ReturnType<typeof nodemailer.createTransport>

let nodemailerModule: Promise<typeof nodemailer> | null = null
/**
 * nodemailer, loaded on first use: ~20 MB of an idle gateway's memory that only instances
 * sending e-mail need (issue #7's idle target; docs/performance.md).
 */
export function loadNodemailer(): Promise<typeof nodemailer> {
  nodemailerModule ??= import('nodemailer').then((m) => m.default)
  return nodemailerModule
}

interface PoolEntry {
  version: string
  transporter: Transporter
  busy: number
  idleTimer: ReturnType<typeof setTimeout> | null
}

const pools = new Map<string, PoolEntry>()

/** nodemailer's SMTP options for a channel config. */
export function transportOptions(config: SmtpConfig) {
  const bareHost = config.host.replace(/^\[(.*)\]$/, '$1')
  return {
    host: bareHost,
    port: config.port,
    secure: config.secure,
    requireTLS: !config.secure && config.starttls === 'required',
    ignoreTLS: !config.secure && config.starttls === 'never',
    // A server that announces STARTTLS but fails the upgrade still gets the mail, without AUTH.
    opportunisticTLS: !config.secure && config.starttls === 'opportunistic',
    auth: config.username !== undefined ? { user: config.username, pass: config.password ?? '' } : undefined,
    // SNI is sent for names only (RFC 6066 forbids IP literals there).
    tls: { rejectUnauthorized: config.tls_reject_unauthorized, ...(isIP(bareHost) ? {} : { servername: bareHost }) },
    dkim: config.dkim
      ? { domainName: config.dkim.domain_name, keySelector: config.dkim.key_selector, privateKey: config.dkim.private_key }
      : undefined,
    // Message content comes from tenants: nodemailer must never read a local file or a URL itself.
    disableFileAccess: true,
    disableUrlAccess: true,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    logger: false,
  }
}

function configVersion(config: SmtpConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('base64url')
}

function retire(entry: PoolEntry): void {
  if (entry.idleTimer) clearTimeout(entry.idleTimer)
  // A connection in the middle of a delivery finishes it before it closes.
  entry.transporter.close()
}

/** A transport for one send; `release` must be called when the send is over. */
export async function acquireTransport(channelId: string, config: SmtpConfig): Promise<{ transporter: Transporter; release(): void }> {
  const nodemailer = await loadNodemailer()
  if (!config.pool) {
    const pooled = pools.get(channelId)
    if (pooled) {
      // The channel was switched off pooling: its pool goes now, not at its idle timeout.
      pools.delete(channelId)
      retire(pooled)
    }
    const transporter = nodemailer.createTransport(transportOptions(config))
    return { transporter, release: () => transporter.close() }
  }
  const version = configVersion(config)
  let entry = pools.get(channelId)
  if (entry && entry.version !== version) {
    pools.delete(channelId)
    retire(entry)
    entry = undefined
  }
  if (!entry) {
    const transporter = nodemailer.createTransport({
      ...transportOptions(config),
      pool: true,
      maxConnections: POOL_MAX_CONNECTIONS,
      maxMessages: POOL_MAX_MESSAGES,
      idleTimeout: POOL_IDLE_CONNECTION_MS,
    })
    entry = { version, transporter, busy: 0, idleTimer: null }
    pools.set(channelId, entry)
  }
  const held = entry
  held.busy++
  if (held.idleTimer) clearTimeout(held.idleTimer)
  held.idleTimer = null
  let released = false
  return {
    transporter: held.transporter,
    release() {
      if (released) return
      released = true
      held.busy--
      if (held.busy > 0 || pools.get(channelId) !== held) return
      held.idleTimer = setTimeout(() => {
        if (pools.get(channelId) === held && held.busy === 0) {
          pools.delete(channelId)
          retire(held)
        }
      }, POOL_IDLE_CLOSE_MS)
      held.idleTimer.unref?.()
    },
  }
}

/** Closes every pooled transport (the dispatcher stops); the next send opens a new one. */
export async function closeSmtpTransports(): Promise<void> {
  const entries = [...pools.values()]
  pools.clear()
  for (const entry of entries) retire(entry)
}

/** How many pooled transports are open (for tests). */
export function openPoolCount(): number {
  return pools.size
}
