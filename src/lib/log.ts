/**
 * A small structured logger: text (`level message key=value`) or JSON lines, to stderr so that
 * stdout stays for what a person asked for (the demo API key, CLI output). A line written while
 * serving a request carries its `request_id`.
 */
import { currentRequestId } from './request-context'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }
/** Field names whose values never reach a log line. */
const SECRET_FIELD = /key|secret|token|password|authorization|config/i

function render(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text
}

export function createLogger(
  opts: { level: LogLevel; format: 'text' | 'json' },
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (ORDER[level] < ORDER[opts.level]) return
    const safe = Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, SECRET_FIELD.test(k) ? '[redacted]' : v]),
    )
    const requestId = currentRequestId()
    if (requestId !== undefined && safe.request_id === undefined) safe.request_id = requestId
    const time = new Date().toISOString()
    if (opts.format === 'json') write(JSON.stringify({ time, level, msg: message, ...safe }))
    else write([time, level.toUpperCase().padEnd(5), message, ...Object.entries(safe).map(([k, v]) => `${k}=${render(v)}`)].join(' '))
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  }
}

/** A logger that drops everything (tests, CLI commands that only print results). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
