/**
 * The built-in SMTP listener (`[smtp]` in the config; off by default): receives mail for the
 * terminals of smtp channels. A message becomes an inbound message of the channel; a delivery
 * report (DSN) for something the gateway sent fails that message and suppresses the recipient;
 * an abuse report (ARF) suppresses the complainer. The client gets its 250 only once what the
 * mail changed is committed, so a crash before that makes the sending server try again.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import { type Config, parseListen } from '../config'
import { readReceivedMail } from '../connectors/smtp/inbound'
import type { Deps } from '../domain/deps'
import { findMailChannel, recordReceivedMail } from '../domain/inbound/email'
import type { Logger } from '../lib/log'

export interface SmtpListener {
  /** host:port it listens on */
  address: string
  stop(): Promise<void>
}

/** An SMTP reply for smtp-server: it answers `<code> <message>`. */
function reply(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code })
}

const digest = (value: string) => createHash('sha256').update(value).digest()

function readTlsFile(key: 'tls_cert_file' | 'tls_key_file', path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new Error(`smtp.${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}

export async function startSmtpListener(deps: Deps, config: Config, log: Logger): Promise<SmtpListener | null> {
  const smtp = config.smtp
  if (!smtp.enabled) return null
  const listen = parseListen(smtp.listen)
  if (!listen) throw new Error(`smtp.listen: invalid address "${smtp.listen}"`)
  const tls = smtp.tls_cert_file && smtp.tls_key_file
    ? { cert: readTlsFile('tls_cert_file', smtp.tls_cert_file), key: readTlsFile('tls_key_file', smtp.tls_key_file) }
    : null
  // Digests compared in constant time: neither the length nor a prefix of a password leaks.
  const users = new Map(
    [...smtp.users, ...(smtp.username && smtp.password ? [{ username: smtp.username, password: smtp.password }] : [])].map((u) => [
      u.username,
      digest(u.password),
    ]),
  )
  if (users.size > 0 && !tls) log.warn('smtp listener takes passwords without TLS; set smtp.tls_cert_file and smtp.tls_key_file')

  const options: SMTPServerOptions = {
    name: smtp.hostname || hostname(),
    banner: 'omnigate',
    logger: false,
    // SIZE is announced (RFC 1870) and enforced while the data streams in.
    size: smtp.max_message_bytes,
    ...(tls ?? {}),
    disabledCommands: [...(tls ? [] : ['STARTTLS']), ...(users.size === 0 ? ['AUTH'] : [])],
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !smtp.auth_required,
    // Without a certificate there is nothing to upgrade to; the warning above says so.
    allowInsecureAuth: !tls,
    closeTimeout: config.engine.shutdown_timeout_ms,

    onAuth(auth, _session, callback) {
      const expected = auth.username === undefined ? undefined : users.get(auth.username)
      const given = digest(auth.password ?? '')
      if (expected && timingSafeEqual(expected, given)) return callback(null, { user: auth.username })
      callback(reply(535, '5.7.8 Authentication credentials invalid'))
    },

    onRcptTo(address, _session, callback) {
      findMailChannel(deps, address.address).then(
        (found) => callback(found ? null : reply(550, `5.1.1 <${address.address}>: no such mailbox here`)),
        (error) => {
          log.error('smtp listener could not look up a recipient', { error: String(error) })
          callback(reply(451, '4.3.0 Temporary failure, try again later'))
        },
      )
    },

    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      let size = 0
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= smtp.max_message_bytes) chunks.push(chunk)
      })
      stream.on('end', () => {
        if (stream.sizeExceeded || size > smtp.max_message_bytes) {
          return callback(reply(552, `5.3.4 Message larger than ${smtp.max_message_bytes} bytes`))
        }
        const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
        const recipients = session.envelope.rcptTo.map((r) => r.address)
        receive(deps, log, Buffer.concat(chunks), envelopeFrom, recipients).then(
          () => callback(null, 'Message accepted'),
          (error) => {
            log.error('smtp listener could not store a message', { error: String(error) })
            callback(reply(451, '4.3.0 Temporary failure, try again later'))
          },
        )
      })
    },
  }

  const server = new SMTPServer(options)
  server.on('error', (error) => log.error('smtp listener error', { error: String(error) }))
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(new Error(`smtp.listen ${smtp.listen}: ${error.message}`))
    server.server.once('error', failed)
    server.listen(listen.port, listen.host, () => {
      server.server.off('error', failed)
      resolve()
    })
  })
  const bound = server.server.address()
  const address =
    bound && typeof bound === 'object' ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : smtp.listen
  log.info('smtp listener started', { address, tls: Boolean(tls), auth: smtp.auth_required ? 'required' : users.size > 0 ? 'optional' : 'off' })

  return {
    address,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** One stored copy per channel the recipients belong to (several terminals of one channel: one). */
async function receive(deps: Deps, log: Logger, raw: Buffer, envelopeFrom: string, recipients: string[]): Promise<void> {
  const mail = await readReceivedMail(raw, envelopeFrom)
  const done = new Set<string>()
  for (const recipient of recipients) {
    const found = await findMailChannel(deps, recipient)
    if (!found || done.has(found.channel.id)) continue
    done.add(found.channel.id)
    const outcome = await recordReceivedMail(deps, found.channel, found.address, mail)
    if (outcome === 'ignored') {
      log.info('smtp listener ignored a report about no message of the channel', { channel_id: found.channel.id, from: envelopeFrom })
    }
  }
}
