import { readFileSync } from 'node:fs'
import type { z } from 'zod'
import { type Config, configSchema } from './schema'

export interface ConfigIssue {
  path: string
  message: string
}

/** Every problem found in a configuration, each with its key path. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[]

  constructor(issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}

export interface LoadOptions {
  path?: string
  /** The path was given by the user (`--config`), so a missing file is an error rather than demo mode. */
  explicitPath?: boolean
  env?: Record<string, string | undefined>
  /** Command-line flags, as the `OMNIGATE_*` variables they stand for (they win over the env). */
  overrides?: Record<string, string>
}

type Env = Record<string, string | undefined>
type PathSegment = string | number

export const DEFAULT_CONFIG_PATH = './omnigate.toml'
const ENV_PREFIX = 'OMNIGATE_'
const UNKNOWN_KEY = 'unknown key'

/** Returns a deeply frozen Config, and the file it came from (null = built-in defaults, "demo mode"). */
export function loadConfig(opts: LoadOptions = {}): { config: Config; file: string | null } {
  // The one place in the codebase that reads the process environment.
  const env = { ...(opts.env ?? process.env), ...opts.overrides }
  const path = opts.path ?? DEFAULT_CONFIG_PATH
  const raw = readToml(path, opts.explicitPath ?? false)
  const config = resolveConfig(raw ?? {}, env)
  return { config: deepFreeze(config), file: raw === null ? null : path }
}

/** Validates a file; returns every problem with its key path (empty array = valid). Never throws for user mistakes. */
export function checkConfigFile(path: string, env: Env = process.env): ConfigIssue[] {
  try {
    loadConfig({ path, explicitPath: true, env })
    return []
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
}

/** Reads and parses the TOML file; null when it is absent and absence is allowed. */
function readToml(path: string, explicitPath: boolean): Record<string, unknown> | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && !explicitPath) return null
    const message = code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${(err as Error).message}`
    throw new ConfigError([{ path: '--config', message }])
  }
  try {
    return Bun.TOML.parse(text) as Record<string, unknown>
  } catch (err) {
    const message = tomlMessage(err)
    const line = locateTomlError(text, message)
    throw new ConfigError([{ path: '(toml)', message: line ? `${message} (near line ${line})` : message }])
  }
}

function tomlMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^TOML Parse error: /, '')
}

/**
 * Bun's TOML errors carry no usable position, so find the shortest prefix of lines that
 * fails with the same message; that is where the parser gave up.
 */
function locateTomlError(text: string, message: string): number | null {
  const lines = text.split('\n')
  const failsLikeWhole = (prefix: string) => {
    try {
      Bun.TOML.parse(prefix)
      return false
    } catch (err) {
      return tomlMessage(err) === message
    }
  }
  for (let n = 1; n <= lines.length; n++) {
    const prefix = lines.slice(0, n).join('\n')
    // With and without the line's own newline: some errors are only noticed at the line break.
    if (failsLikeWhole(`${prefix}\n`) || failsLikeWhole(prefix)) return n
  }
  return null
}

/** Interpolates, applies env overrides and validates; throws a ConfigError listing every issue. */
function resolveConfig(raw: Record<string, unknown>, env: Env): Config {
  const issues: ConfigIssue[] = []
  const failedPaths: string[] = []
  const tree = interpolate(raw, [], env, (path, message) => {
    failedPaths.push(formatPath(path))
    issues.push({ path: formatPath(path), message })
  }) as Record<string, unknown>
  const envSources = applyEnvOverrides(tree, env, issues, placeholderNames(raw))

  const result = configSchema.safeParse(tree)
  if (result.success && issues.length === 0) return result.data
  for (const issue of result.error?.issues ?? []) {
    for (const { path, message } of describeIssue(issue)) {
      // The interpolation error already explains this key; its placeholder value would only add noise.
      const coveredByInterpolation = failedPaths.some(
        (failed) => path === failed || path.startsWith(`${failed}.`) || path.startsWith(`${failed}[`),
      )
      if (coveredByInterpolation && message !== UNKNOWN_KEY) continue
      issues.push({ path: withEnvSource(path, envSources), message })
    }
  }
  throw new ConfigError(issues)
}

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g

/** The variables the file's `${…}` placeholders name (they are the file's inputs, not overrides). */
function placeholderNames(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(PLACEHOLDER)) if (m[1] !== undefined) into.add(m[1])
  } else if (Array.isArray(value)) {
    for (const item of value) placeholderNames(item, into)
  } else if (isPlainObject(value)) {
    for (const item of Object.values(value)) placeholderNames(item, into)
  }
  return into
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string of the tree; `$${` is a literal `${`. */
function interpolate(value: unknown, path: PathSegment[], env: Env, fail: (path: PathSegment[], message: string) => void): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${'
      if (name === undefined) {
        fail(path, 'malformed ${...} placeholder (use ${VAR} or ${VAR:-default}; $${ for a literal ${)')
        return match
      }
      const found = env[name]
      // Shell semantics: `:-` also replaces an empty value.
      if (fallback !== undefined) return found === undefined || found === '' ? fallback : found
      if (found === undefined) {
        fail(path, `environment variable ${name} is not set`)
        return match
      }
      return found
    })
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, [...path, i], env, fail))
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, fail)]))
  }
  return value
}

/**
 * Applies `OMNIGATE_<SECTION>_<KEY>` variables to the top-level sections, coerced to the key's
 * type. Returns which env variable set which `section.key`, so errors can name it.
 */
function applyEnvOverrides(tree: Record<string, unknown>, env: Env, issues: ConfigIssue[], placeholders: Set<string>): Map<string, string> {
  const sources = new Map<string, string>()
  const sections = objectShape(configSchema)
  for (const name of Object.keys(env).sort()) {
    // A variable the file itself reads (`password = "${OMNIGATE_SMTP_RELAY_PASSWORD}"`) is not an override.
    if (placeholders.has(name)) continue
    const value = env[name]
    // An empty value counts as unset: `FOO=${UNSET}` in a compose file must not clobber the file.
    if (!name.startsWith(ENV_PREFIX) || value === undefined || value === '') continue
    const rest = name.slice(ENV_PREFIX.length)
    const split = rest.indexOf('_')
    if (split <= 0) continue
    const section = rest.slice(0, split).toLowerCase()
    const key = rest.slice(split + 1).toLowerCase()
    const sectionSchema = section === 'namespaces' ? undefined : sections[section]
    // Other OMNIGATE_ variables (OMNIGATE_MASTER_KEY used by interpolation, ...) are not ours.
    if (!sectionSchema) continue
    const fields = objectShape(sectionSchema)
    const field = fields[key]
    if (!field) {
      issues.push({ path: name, message: `unknown key "${key}" in section [${section}] (known: ${Object.keys(fields).join(', ')})` })
      continue
    }
    const current = tree[section]
    // A non-table section is left alone so the schema reports the file's mistake.
    if (current !== undefined && !isPlainObject(current)) continue
    tree[section] = { ...current, [key]: coerce(field, value) }
    sources.set(`${section}.${key}`, name)
  }
  return sources
}

/** Converts an env string to the type the schema expects; unconvertible values pass through for the schema to reject. */
function coerce(schema: z.ZodType, value: string): unknown {
  const kind = unwrap(schema)._zod.def.type
  const trimmed = value.trim()
  if (kind === 'number') return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : value
  if (kind === 'boolean') {
    const lower = trimmed.toLowerCase()
    if (lower === 'true' || lower === '1') return true
    if (lower === 'false' || lower === '0') return false
    return value
  }
  if (kind === 'array') {
    // Each item as the list's element type: `OMNIGATE_WEBHOOKS_RETRY_SCHEDULE_MS=0,5000` is numbers.
    const element = (unwrap(schema)._zod.def as { element?: z.ZodType }).element
    const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
    return element ? items.map((item) => coerce(element, item)) : items
  }
  return value
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema as z.ZodType & { _zod: { def: { innerType?: z.ZodType } } }
  while (current._zod.def.innerType) current = current._zod.def.innerType as typeof current
  return current
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> {
  const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.ZodType> }
  return def.type === 'object' && def.shape ? def.shape : {}
}

function describeIssue(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol')
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: UNKNOWN_KEY }))
  }
  return [{ path: formatPath(path) || '(config)', message: issue.message }]
}

function withEnvSource(path: string, sources: Map<string, string>): string {
  const key = /^[^.[]+\.[^.[]+/.exec(path)?.[0]
  const source = key === undefined ? undefined : sources.get(key)
  return source ? `${path} (from ${source})` : path
}

/** `['namespaces', 0, 'channels', 1, 'type']` → `namespaces[0].channels[1].type`. */
function formatPath(path: readonly PathSegment[]): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else out += out === '' ? segment : `.${segment}`
  }
  return out
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    if (Array.isArray(value) || isPlainObject(value)) for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
