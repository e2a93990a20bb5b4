import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkConfigFile, ConfigError, loadConfig } from './load'
import { publicUrl } from './schema'

const dir = mkdtempSync(join(tmpdir(), 'omnigate-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let fileCount = 0
function writeConfig(toml: string): string {
  const path = join(dir, `config-${++fileCount}.toml`)
  writeFileSync(path, toml)
  return path
}

/** Loads `toml` with exactly `env` (never the test runner's environment). */
function load(toml: string, env: Record<string, string> = {}) {
  return loadConfig({ path: writeConfig(toml), explicitPath: true, env }).config
}

/** The issues a load reports, as "path: message" lines. */
function problems(toml: string | null, env: Record<string, string> = {}): string[] {
  const path = toml === null ? join(dir, 'absent.toml') : writeConfig(toml)
  try {
    loadConfig({ path, explicitPath: true, env })
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`)
  }
  throw new Error('expected a ConfigError')
}

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64')
const API_KEY = `og_live_${'a1B2'.repeat(7)}`

const namespaceToml = (apiKey: string) => `
[[namespaces]]
slug = "acme"
[[namespaces.channels]]
name = "ops"
type = "http"
config = { url = "https://hooks.example.com" }
[[namespaces.applications]]
name = "billing"
[[namespaces.applications.api_keys]]
key = "${apiKey}"
`

describe('loadConfig without a file', () => {
  test('an absent default file means built-in defaults (demo mode)', () => {
    const { config, file } = loadConfig({ path: join(dir, 'absent.toml'), env: {} })
    expect(file).toBeNull()
    expect(config.server.listen).toBe('127.0.0.1:8080')
    expect(config.server.body_limit_bytes).toBe(16 * 1024 * 1024)
    expect(config.database).toEqual({ url: 'file:./data/omnigate.db', synchronous: 'NORMAL', busy_timeout_ms: 5000, cache_mb: 32, request_timeout_ms: 30_000, auto_migrate: true })
    expect(config.security.master_key).toBeUndefined()
    expect(config.engine.lease_ms).toBe(30_000)
    expect(config.engine.backoff_max_ms).toBe(3_600_000)
    expect(config.log).toEqual({ level: 'info', format: 'text' })
    expect(config.namespaces).toEqual([])
    expect(publicUrl(config)).toBe('http://127.0.0.1:8080')
  })

  test('an absent explicit file is an error on --config', () => {
    const missing = join(dir, 'absent.toml')
    expect(problems(null)).toEqual([`--config: file not found: ${missing}`])
    expect(checkConfigFile(missing, {})).toEqual([{ path: '--config', message: `file not found: ${missing}` }])
  })

  test('env overrides apply without a file', () => {
    const { config } = loadConfig({ path: join(dir, 'absent.toml'), env: { OMNIGATE_SERVER_LISTEN: '[::1]:9000' } })
    expect(config.server.listen).toBe('[::1]:9000')
    expect(publicUrl(config)).toBe('http://[::1]:9000')
  })
})

describe('loadConfig with a file', () => {
  test('file values replace defaults and the file is reported', () => {
    const path = writeConfig(`
[server]
listen = "0.0.0.0:80"
public_url = "https://gw.example.com/"
[engine]
concurrency = 4
${namespaceToml(API_KEY)}`)
    const { config, file } = loadConfig({ path, env: {} })
    expect(file).toBe(path)
    expect(config.server.listen).toBe('0.0.0.0:80')
    expect(publicUrl(config)).toBe('https://gw.example.com')
    expect(config.engine.concurrency).toBe(4)
    expect(config.engine.batch_size).toBe(100)
    const [ns] = config.namespaces
    expect(ns.channels[0]).toEqual({ name: 'ops', type: 'http', config: { url: 'https://hooks.example.com' }, terminals: [] })
    expect(ns.applications[0].api_keys[0].key).toBe(API_KEY)
  })

  test('the result is deeply frozen', () => {
    const config = load(namespaceToml(API_KEY))
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.engine)).toBe(true)
    expect(Object.isFrozen(config.namespaces[0].channels[0].config)).toBe(true)
    expect(() => {
      ;(config.engine as { concurrency: number }).concurrency = 1
    }).toThrow()
  })

  test('a TOML syntax error is reported under (toml) with its line', () => {
    expect(problems('[server]\nlisten = "a:1"\n[engine\n')).toEqual([
      "(toml): Expected ']' to close a table header but found (0x0A) (near line 3)",
    ])
  })
})

describe('interpolation', () => {
  test('${VAR}, ${VAR:-default} and $${ escapes, anywhere in the tree', () => {
    const config = load(
      `[server]
listen = "\${HOST:-127.0.0.1}:\${PORT}"
[database]
url = "libsql://\${DB_HOST}"
auth_token = "\${EMPTY:-fallback}"
[[namespaces]]
slug = "acme"
name = "costs $\${dollars}"
[[namespaces.channels]]
name = "ops"
type = "http"
config = { url = "https://x.example", headers = { Authorization = "Bearer \${TOKEN}" } }
`,
      { PORT: '9090', DB_HOST: 'db.internal', EMPTY: '', TOKEN: 's3cret' },
    )
    expect(config.server.listen).toBe('127.0.0.1:9090')
    expect(config.database.url).toBe('libsql://db.internal')
    expect(config.database.auth_token).toBe('fallback')
    expect(config.namespaces[0].name).toBe('costs ${dollars}')
    expect(config.namespaces[0].channels[0].config).toEqual({ url: 'https://x.example', headers: { Authorization: 'Bearer s3cret' } })
  })

  test('an unset variable is an error at its key path, without a follow-up validation error', () => {
    expect(problems(`[security]\nmaster_key = "\${OMNIGATE_KEY}"\n`)).toEqual([
      'security.master_key: environment variable OMNIGATE_KEY is not set',
    ])
    expect(problems(namespaceToml('${ACME_API_KEY}'))).toEqual([
      'namespaces[0].applications[0].api_keys[0].key: environment variable ACME_API_KEY is not set',
    ])
  })
})

describe('environment overrides', () => {
  test('values are coerced to the schema type and win over the file', () => {
    const config = load('[engine]\nbatch_size = 10\n', {
      OMNIGATE_ENGINE_BATCH_SIZE: '50',
      OMNIGATE_SECURITY_ALLOW_PRIVATE_NETWORK: 'true',
      OMNIGATE_ENGINE_ENABLED: '0',
      OMNIGATE_SERVER_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1',
      OMNIGATE_SECURITY_MASTER_KEY: MASTER_KEY,
      OMNIGATE_DATABASE_AUTH_TOKEN: 'tok',
      OMNIGATE_MASTER_KEY: 'not-a-section-so-ignored',
    })
    expect(config.engine.batch_size).toBe(50)
    expect(config.engine.enabled).toBe(false)
    expect(config.security).toMatchObject({ master_key: MASTER_KEY, allow_private_network: true })
    expect(config.server.trusted_proxies).toEqual(['10.0.0.0/8', '192.168.1.1'])
    expect(config.database.auth_token).toBe('tok')
  })

  test('a bad value names the variable it came from', () => {
    expect(problems('', { OMNIGATE_SERVER_LISTEN: 'localhost', OMNIGATE_ENGINE_CONCURRENCY: 'lots' })).toEqual([
      'server.listen (from OMNIGATE_SERVER_LISTEN): must be HOST:PORT with a port 0-65535 (IPv6 as [::1]:8080)',
      'engine.concurrency (from OMNIGATE_ENGINE_CONCURRENCY): Invalid input: expected number, received string',
    ])
    expect(problems('', { OMNIGATE_SECURITY_ALLOW_PRIVATE_NETWORK: 'yes' })[0]).toStartWith(
      'security.allow_private_network (from OMNIGATE_SECURITY_ALLOW_PRIVATE_NETWORK):',
    )
  })

  test('an unknown key in a known section is an error naming the variable', () => {
    expect(problems('', { OMNIGATE_SERVER_LISTN: 'x' })).toEqual([
      'OMNIGATE_SERVER_LISTN: unknown key "listn" in section [server] (known: listen, public_url, body_limit_bytes, trusted_proxies)',
    ])
  })
})

describe('validation', () => {
  test('unknown keys are rejected with their path', () => {
    expect(problems('[server]\nlisen = "x"\n[extra]\na = 1\n')).toEqual(['server.lisen: unknown key', 'extra: unknown key'])
    expect(problems(`${namespaceToml(API_KEY)}\n[[namespaces.channels.terminals]]\naddress = "a"\ncolour = "red"\n`)).toEqual([
      'namespaces[0].channels[0].terminals[0].colour: unknown key',
    ])
  })

  test('a bad enum value and a bad scalar report their paths', () => {
    const found = problems('[log]\nlevel = "verbose"\n[server]\nlisten = "127.0.0.1:70000"\n[security]\nmaster_key = "c2hvcnQ="\n')
    expect(found).toHaveLength(3)
    expect(found[0]).toBe('server.listen: must be HOST:PORT with a port 0-65535 (IPv6 as [::1]:8080)')
    expect(found[1]).toStartWith('security.master_key: must be base64 decoding to exactly 32 bytes')
    expect(found[2]).toMatch(/^log\.level: .*"debug"\|"info"\|"warn"\|"error"/)
  })

  test('a lease no longer than the send timeout is refused, naming both keys', () => {
    expect(problems('[engine]\nlease_ms = 15000\nsend_timeout_ms = 15000\n')).toEqual([
      'engine.lease_ms: engine.lease_ms (15000) must be longer than engine.send_timeout_ms (15000)',
    ])
  })

  test('backoff_max_ms below backoff_base_ms names both keys', () => {
    expect(problems('[engine]\nbackoff_base_ms = 5000\nbackoff_max_ms = 1000\n')).toEqual([
      'engine.backoff_max_ms: engine.backoff_max_ms (1000) must be >= engine.backoff_base_ms (5000)',
    ])
  })

  test('duplicate names are reported at the repeated entry', () => {
    const toml = `${namespaceToml(API_KEY)}
[[namespaces]]
slug = "acme"
[[namespaces.channels]]
name = "a"
type = "sandbox"
[[namespaces.channels]]
name = "a"
type = "sandbox"
[[namespaces.applications]]
name = "x"
[[namespaces.applications]]
name = "x"
`
    expect(problems(toml)).toEqual([
      'namespaces[1].channels[1].name: duplicate channel name "a" (first at index 0)',
      'namespaces[1].applications[1].name: duplicate application name "x" (first at index 0)',
      'namespaces[1].slug: duplicate namespace slug "acme" (first at index 0)',
    ])
  })

  test('namespace-level fields are checked at their nested path', () => {
    const toml = `[[namespaces]]
slug = "Acme"
[[namespaces.channels]]
name = "ok"
type = ""
[[namespaces.applications]]
name = "a"
api_keys = [{ key = "og_live_short" }]
`
    expect(problems(toml).map((line) => line.split(':')[0])).toEqual([
      'namespaces[0].slug',
      'namespaces[0].channels[0].type',
      'namespaces[0].applications[0].api_keys[0].key',
    ])
  })
})

describe('config.example.toml', () => {
  const examplePath = join(import.meta.dir, '../../config.example.toml')
  const env = { OMNIGATE_MASTER_KEY: MASTER_KEY, ACME_API_KEY: API_KEY, ACME_WEBHOOK_TOKEN: 'token', ACME_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 1).toString('base64')}` }

  test('is valid as shipped and spells out every default', () => {
    expect(checkConfigFile(examplePath, env)).toEqual([])
    const { config } = loadConfig({ path: examplePath, env })
    const { config: defaults } = loadConfig({ path: join(dir, 'absent.toml'), env: {} })
    expect(config.security.master_key).toBe(MASTER_KEY)
    const withoutSecret: unknown = { ...config, security: { ...config.security, master_key: undefined } }
    expect(withoutSecret).toEqual(defaults)
  })

  test('without its secrets it says which variable is missing', () => {
    expect(checkConfigFile(examplePath, {})).toEqual([
      { path: 'security.master_key', message: 'environment variable OMNIGATE_MASTER_KEY is not set' },
    ])
  })

  test('its commented namespace example is valid once uncommented', () => {
    const text = readFileSync(examplePath, 'utf8')
    const start = text.indexOf('# [[namespaces]]')
    expect(start).toBeGreaterThan(0)
    const uncommented = text.slice(0, start) + text.slice(start).replace(/^# ?(?!#)/gm, '')
    const config = load(uncommented, env)
    const [ns] = config.namespaces
    expect(ns.slug).toBe('acme')
    expect(ns.channels[0].type).toBe('http')
    expect(ns.channels[0].config.headers).toEqual({ Authorization: 'Bearer token' })
    expect(ns.channels[0].terminals).toHaveLength(1)
    expect(ns.applications[0].api_keys[0].key).toBe(API_KEY)
    expect(ns.webhooks[0]).toMatchObject({ url: 'https://hooks.example.com/omnigate', channels: ['ops-webhook'] })
  })
})
