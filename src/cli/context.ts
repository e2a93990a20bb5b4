/**
 * What every CLI command shares: the global flags, opening the gateway exactly as `serve` does,
 * printing, and turning failures into one clear line and a non-zero exit code.
 */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Command } from 'commander'
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../config'
import type { Config } from '../config'
import type { Deps } from '../domain/deps'
import { AppError } from '../domain/errors'
import { MasterKeyError, openGateway, StartupError } from '../gateway'
import { ReconcileError } from '../domain/namespaces/reconcile'
import { createLogger, type Logger } from '../lib/log'
import { SchemaTooNewError } from '../store/migrate'
import { isDatabaseBusy } from '../store/store'
import { databaseFilePath } from '../store/open'

export interface GlobalOptions {
  config?: string
  json?: boolean
}

/** Thrown for a user mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions
}

export function loadCliConfig(opts: GlobalOptions, overrides?: Record<string, string>): { config: Config; demo: boolean } {
  const { config, file } = loadConfig({
    path: opts.config ?? DEFAULT_CONFIG_PATH,
    explicitPath: opts.config !== undefined,
    overrides,
  })
  return { config, demo: file === null }
}

export function cliLogger(config: Config): Logger {
  // CLI commands print results; the log only carries warnings and errors.
  return createLogger({ level: config.log.level === 'debug' ? 'debug' : 'warn', format: config.log.format })
}

/**
 * A command given a config file whose database is not there, nor its directory (a volume not
 * mounted, a relative path run from elsewhere), is refused rather than answered from a new,
 * empty database left behind. A missing file in an existing directory is a fresh install.
 */
function checkDatabaseThere(config: Config): void {
  const file = databaseFilePath(config.database.url)
  if (file === null) return
  const path = resolve(file)
  if (existsSync(path) || existsSync(dirname(path))) return
  throw new StartupError(
    `database.url: there is no database at ${path}, nor its directory (a volume not mounted, or run from another directory?); "omnigate serve" or "omnigate migrate" creates a new one`,
  )
}

/** Opens the gateway, runs `fn`, closes the store. */
export async function withGateway<T>(cmd: Command, fn: (deps: Deps, config: Config) => Promise<T>): Promise<T> {
  const { config, demo } = loadCliConfig(globals(cmd))
  if (!demo) checkDatabaseThere(config)
  const deps = await openGateway({ config, demo, log: cliLogger(config), migrate: config.database.auto_migrate })
  try {
    return await fn(deps, config)
  } finally {
    await deps.store.close()
  }
}

/** Wraps a command action: known failures become `error: …` lines, never a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args)
    } catch (error) {
      process.exitCode = reportError(error)
    }
  }
}

export function reportError(error: unknown): number {
  const say = (line: string) => process.stderr.write(`error: ${line}\n`)
  if (error instanceof AppError) {
    if (error.errors.length > 0) for (const e of error.errors) say(`${e.field}: ${e.message}`)
    else say(error.detail)
    return 1
  }
  if (error instanceof ConfigError) {
    for (const issue of error.issues) say(`${issue.path}: ${issue.message}`)
    return 2
  }
  if (error instanceof UsageError || error instanceof StartupError || error instanceof ReconcileError || error instanceof SchemaTooNewError) {
    for (const line of error.message.split('\n')) say(line)
    return error instanceof UsageError || error instanceof MasterKeyError ? 2 : 1
  }
  if (isDatabaseBusy(error)) {
    say('the database is busy: another process held its write lock for longer than database.busy_timeout_ms, and this write was not made; run the command again')
    return 1
  }
  say(withCauses(error))
  return 1
}

/** An error's message followed by its causes ("Failed query …: connection refused"). */
function withCauses(error: unknown): string {
  const parts: string[] = []
  for (let e: unknown = error; e !== undefined && parts.length < 4; e = e instanceof Error ? e.cause : undefined) {
    parts.push(e instanceof Error ? e.message.split('\n')[0]! : String(e))
  }
  return parts.join(': ')
}

/** Prints rows as an aligned table, or JSON with --json. */
export function printTable(opts: GlobalOptions, rows: Record<string, unknown>[], json: unknown = rows): void {
  if (opts.json) {
    console.log(JSON.stringify(json, null, 2))
    return
  }
  if (rows.length === 0) {
    console.log('(none)')
    return
  }
  const cols = Object.keys(rows[0]!)
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v))
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(line(cols.map((c) => c.toUpperCase())))
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))))
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2))
}

/** A century: longer is a mistake (and soon past the last date a credential can carry). */
const MAX_EXPIRY_DAYS = 36_500

/** `--scopes a,b` and `--expires-in-days N` of a new credential (API key or OAuth client). */
export function credentialFlags(opts: { scopes?: string; expiresInDays?: string }): { scopes?: string[]; expiresAt: number | null } {
  const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays)
  if (days !== undefined && !(Number.isInteger(days) && days > 0 && days <= MAX_EXPIRY_DAYS)) {
    throw new UsageError(`--expires-in-days must be a whole number from 1 to ${MAX_EXPIRY_DAYS}`)
  }
  return {
    scopes: opts.scopes?.split(',').map((s) => s.trim()).filter(Boolean),
    expiresAt: days ? Date.now() + days * 86_400_000 : null,
  }
}

/** `--limit N`: a whole number from 1 to `max`, or a usage error naming the flag. */
export function limitFlag(value: string, max: number): number {
  const limit = Number(value)
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new UsageError(`--limit must be a whole number from 1 to ${max}`)
  return limit
}
