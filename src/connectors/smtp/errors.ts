/**
 * SMTP failures as the dispatcher's error classes. RFC 5321 §4.2.1: a 5yz reply is a permanent
 * negative completion (550 mailbox unavailable, 553 bad address, 554 transaction failed, 535
 * authentication failed), a 4yz reply a transient one (421 service closing, 450/451/452); a
 * connection that drops or times out says nothing about the message, so it is retried too.
 */
import { ConnectorError } from '../types'

/** What nodemailer puts on its errors (dist/esm/errors.d.ts, smtp-connection `_formatError`). */
interface NodemailerError extends Error {
  code?: string
  responseCode?: number
  response?: string
  command?: string
}

/** Reply texts are the server's words; enough of them to read its reason. */
const REPLY_CHARS = 300

// Codes of errors that happened to the connection, not to the message.
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROTOCOL', 'ECONNRESET', 'ECONNREFUSED', 'EPROXY'])

/** The ConnectorError for whatever nodemailer (or the socket under it) threw. */
export function classifySmtpError(error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error
  const err = (error ?? {}) as NodemailerError
  const reply = (err.response ?? '').replace(/\s+/g, ' ').trim().slice(0, REPLY_CHARS)
  const during = err.command ? ` (${err.command})` : ''

  // starttls = required and the server refuses the upgrade: its setup, not a blip.
  if (err.code === 'ETLS' && err.command === 'STARTTLS' && err.response) {
    return new ConnectorError('permanent', 'starttls_unavailable', `the server refused STARTTLS: ${reply}`)
  }
  if (typeof err.responseCode === 'number' && err.responseCode >= 400) {
    const code = `smtp_${err.responseCode}`
    const text = `${reply || `SMTP ${err.responseCode}`}${during}`
    if (err.responseCode >= 500) {
      if (err.responseCode === 535 || err.responseCode === 534 || err.responseCode === 530) {
        return new ConnectorError('permanent', code, `authentication failed: ${text}`)
      }
      return new ConnectorError('permanent', code, text)
    }
    return new ConnectorError('transient', code, text)
  }

  const message = err.message || String(error)
  if (err.name === 'AbortError' || err.code === 'EABORT') return new ConnectorError('transient', 'timeout', 'the send was abandoned before the server answered')
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH') return new ConnectorError('permanent', 'auth_failed', message)
  if (err.code === 'ETLS') return new ConnectorError('transient', 'tls_error', message)
  if (err.code && CONNECTION_CODES.has(err.code)) {
    const code = err.code === 'ETIMEDOUT' ? 'timeout' : 'connection_error'
    // TLS certificate problems surface as socket errors; name them, retries stay bounded.
    return new ConnectorError('transient', /certificate|self[- ]signed/i.test(message) ? 'tls_error' : code, message)
  }
  if (err.code === 'EENVELOPE' || err.code === 'EMESSAGE' || err.code === 'ECONFIG') {
    return new ConnectorError('permanent', 'invalid_message', message)
  }
  return new ConnectorError('transient', 'smtp_error', message)
}
