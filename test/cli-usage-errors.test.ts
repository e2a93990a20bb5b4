/**
 * Usage mistakes on the command line are one line on stderr and exit code 2 (README). Commander's
 * own (missing or extra arguments, unknown commands and options) exited 1 after the whole help;
 * `--limit` took any text without a word, and a bad `--until` was reported as `--since`. A busy
 * database (another process holding its write lock) was SQLite's bare "database is locked".
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../src/lib/secrets'
import { tempDir } from './helpers/stores'
import { keyedConfig, runCli } from './helpers/cli'

let dir: ReturnType<typeof tempDir>
let configPath: string
const masterKey = generateMasterKey()

const omnigate = (...args: string[]) => runCli(['--config', configPath, ...args], { cwd: dir.path, masterKey })

beforeAll(() => {
  dir = tempDir()
  configPath = join(dir.path, 'omnigate.toml')
  writeFileSync(configPath, keyedConfig(join(dir.path, 'og.db')))
})
afterAll(() => dir.cleanup())

test.each([
  ['a missing argument', ['namespace', 'create']],
  ['an extra argument', ['namespace', 'create', 'acme', 'extra']],
  ['an unknown command', ['namespaces', 'list']],
  ['an unknown option', ['key', 'list', '--namespcae', 'acme']],
  ['a missing required option', ['key', 'create', '-n', 'acme']],
])('%s is one line on stderr and exit code 2', (_what, args) => {
  const { code, stderr } = omnigate(...args)
  expect({ code, lines: stderr.trim().split('\n').length }).toEqual({ code: 2, lines: 1 })
  expect(stderr).toStartWith('error: ')
})

test('user list --limit refuses a value that is not a number, as provisioning list and audit do', () => {
  const { code, stderr } = omnigate('user', 'list', '--limit', 'ten')
  expect(code).toBe(2)
  expect(stderr).toContain('--limit')
})

test('a bad stats --until is reported as --until, not as --since', () => {
  const { code, stderr } = omnigate('stats', '--until', 'yesterday')
  expect(code).toBe(2)
  expect(stderr).toStartWith('error: --until:')
})

test('a database another process holds past busy_timeout is one line naming it, exit 1; the same command then works', () => {
  const busyDir = tempDir()
  try {
    const db = join(busyDir.path, 'og.db')
    const busyConfig = join(busyDir.path, 'omnigate.toml')
    writeFileSync(busyConfig, keyedConfig(db).replace('[security]', 'busy_timeout_ms = 50\n[security]'))
    const cli = (...args: string[]) => runCli(['--config', busyConfig, ...args], { cwd: busyDir.path, masterKey })
    expect(cli('namespace', 'create', 'acme').code).toBe(0)
    const other = new Database(db)
    other.run('BEGIN IMMEDIATE')
    const busy = cli('namespace', 'create', 'beta')
    other.run('ROLLBACK')
    other.close()
    expect({ code: busy.code, lines: busy.stderr.trim().split('\n') }).toEqual({
      code: 1,
      lines: ['error: the database is busy: another process held its write lock for longer than database.busy_timeout_ms, and this write was not made; run the command again'],
    })
    expect(cli('namespace', 'list').stdout).not.toContain('beta')
    expect(cli('namespace', 'create', 'beta').code).toBe(0)
  } finally {
    busyDir.cleanup()
  }
})
