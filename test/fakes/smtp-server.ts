/**
 * A real SMTP server on loopback (smtp-server, the library many MTAs-in-Node use) standing in for
 * a provider's submission server: AUTH PLAIN/LOGIN when credentials are set (required, as
 * submission servers require it), STARTTLS when a certificate is given, and scripted RFC 5321
 * replies (550, 451, ...) at RCPT or DATA. Every accepted message is kept raw, with its envelope.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  mailFrom: string
  rcptTo: string[]
  raw: Buffer
  /** The session was encrypted (STARTTLS or implicit TLS). */
  secure: boolean
  user?: string
}

/** A scripted reply: `[550, '5.1.1 no such user']`, or null to accept. */
export type Reply = [number, string] | null

export interface SmtpSinkOptions {
  auth?: { username: string; password: string }
  tls?: { key: Buffer; cert: Buffer }
  /** Implicit TLS from the first byte (port 465 style) instead of STARTTLS; needs `tls`. */
  secure?: boolean
  /** Reply at RCPT TO for the n-th recipient command (1-based). */
  rcpt?: (address: string, n: number) => Reply
  /** Reply after DATA for the n-th message (1-based). */
  data?: (n: number) => Reply
}

export interface SmtpSink {
  host: string
  port: number
  received: ReceivedMail[]
  /** TCP connections accepted so far. */
  connections: number
  stop(): Promise<void>
}

const replyError = ([code, message]: [number, string]) => Object.assign(new Error(message), { responseCode: code })

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = []
  let rcptCount = 0
  let dataCount = 0
  const sink = { host: '127.0.0.1', port: 0, received, connections: 0 } as SmtpSink
  const server = new SMTPServer({
    logger: false,
    name: 'mx.test',
    ...(opts.tls ?? {}),
    secure: Boolean(opts.secure),
    disabledCommands: [...(opts.tls ? [] : ['STARTTLS']), ...(opts.auth ? [] : ['AUTH'])],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    // Tests stop the sink while pooled clients may still be connected: do not wait 30 s for them.
    closeTimeout: 100,
    onConnect(_session, callback) {
      sink.connections++
      callback()
    },
    onAuth(auth, _session, callback) {
      const ok = opts.auth && auth.username === opts.auth.username && auth.password === opts.auth.password
      callback(ok ? null : replyError([535, '5.7.8 Authentication credentials invalid']), ok ? { user: auth.username } : undefined)
    },
    onRcptTo(address, _session, callback) {
      const reply = opts.rcpt?.(address.address, ++rcptCount) ?? null
      callback(reply ? replyError(reply) : null)
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const reply = opts.data?.(++dataCount) ?? null
        if (reply) return callback(replyError(reply))
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user as string | undefined,
        })
        callback(null)
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  sink.port = (server.server.address() as { port: number }).port
  sink.stop = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return sink
}

/**
 * A self-signed certificate for localhost / 127.0.0.1 made with the openssl CLI (node:crypto
 * cannot issue X.509 certificates); null when openssl is not installed.
 */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } | null {
  const dir = mkdtempSync(join(tmpdir(), 'omnigate-cert-'))
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    )
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
