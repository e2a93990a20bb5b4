/**
 * `omnigate backup` and `omnigate restore` as a person runs them: real processes on config files
 * in a temp dir. The backup is taken while a gateway has the database open (online), and the
 * restored database opens with every row and a working API key.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openGateway } from '../../src/gateway'
import { createApp } from '../../src/http/app'
import { silentLogger } from '../../src/lib/log'
import { startTestGateway, type TestGateway, testConfig } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
let gw: TestGateway
let acme: Awaited<ReturnType<TestGateway['tenant']>>
let work: ReturnType<typeof tempDir>

function writeConfig(name: string, url: string): string {
  const path = join(work.path, name)
  writeFileSync(path, `[database]\nurl = "${url}"\n\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  return path
}

function omnigate(config: string, ...args: string[]) {
  const proc = Bun.spawnSync([process.execPath, MAIN, '--config', config, ...args], {
    cwd: work.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: gw.config.security.master_key! },
  })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}

/** Row counts of every table of a database file. */
function tableCounts(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true })
  try {
    const tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]
    return Object.fromEntries(tables.map(({ name }) => [name, (db.query(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]))
  } finally {
    db.close()
  }
}

let source: string
let sourceConfig: string
const backupFile = () => join(work.path, 'backup.db')
const restoredDb = () => join(work.path, 'restored', 'og.db')

beforeAll(async () => {
  work = tempDir()
  gw = await startTestGateway()
  acme = await gw.tenant('acme')
  await gw.channel(acme.namespaceId, 'sandbox')
  for (let i = 0; i < 5; i++) {
    const res = await gw.call('POST', '/v1/namespaces/acme/messages', acme.key, { channel: 'sandbox', to: `u${i}@example.com`, content: { text: `m${i}` } })
    expect(res.status).toBe(202)
  }
  source = gw.config.database.url.slice('file:'.length)
  sourceConfig = writeConfig('source.toml', gw.config.database.url)
})
afterAll(async () => {
  await gw.close()
  work.cleanup()
})

describe('omnigate backup', () => {
  test('writes a consistent copy while the gateway has the database open', () => {
    const before = tableCounts(source)
    const { code, stdout, stderr } = omnigate(sourceConfig, 'backup', backupFile())
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toMatch(new RegExp(`^backup written to ${backupFile().replaceAll('.', '\\.')} \\(\\d+ bytes\\)\\n$`))
    expect(tableCounts(backupFile())).toEqual(before)
    expect(before.messages).toBe(5)
  })

  test('refuses to overwrite an existing file', () => {
    const again = omnigate(sourceConfig, 'backup', backupFile())
    expect(again.code).toBe(2)
    expect(again.stderr).toBe(`error: backup: ${backupFile()} already exists; choose a new file name\n`)
  })

  test('only embedded file: databases: a libSQL server URL gets a clear refusal', () => {
    const remote = writeConfig('remote.toml', 'libsql://db.example.test')
    const { code, stderr } = omnigate(remote, 'backup', join(work.path, 'remote.db'))
    expect(code).toBe(2)
    expect(stderr).toContain('only embedded file: databases can be backed up and restored here (database.url is libsql:)')
    expect(existsSync(join(work.path, 'remote.db'))).toBe(false)
  })
})

describe('omnigate restore', () => {
  let target: string
  beforeAll(() => {
    target = writeConfig('restored.toml', `file:${restoredDb()}`)
  })

  test('puts the backup in place; the gateway opens it with every row and the old API key works', async () => {
    const { code, stdout, stderr } = omnigate(target, 'restore', backupFile())
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toStartWith(`restored ${backupFile()} to ${restoredDb()} (schema `)
    expect(tableCounts(restoredDb())).toEqual(tableCounts(backupFile()))
    const config = testConfig(work.path, { database: { url: `file:${restoredDb()}` }, security: { master_key: gw.config.security.master_key } })
    const deps = await openGateway({ config, demo: false, log: silentLogger, migrate: true })
    try {
      const app = createApp(deps, { bodyLimitBytes: config.server.body_limit_bytes, log: silentLogger })
      const res = await app.request('/v1/namespaces/acme/messages', { headers: { authorization: `Bearer ${acme.key}` } })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(5)
    } finally {
      await deps.store.close()
    }
  })

  test('an existing database is replaced only with --force, and its -wal/-shm go with it', () => {
    const refused = omnigate(target, 'restore', backupFile())
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`a database exists at ${restoredDb()}; stop the server, then run again with --force`)
    writeFileSync(`${restoredDb()}-wal`, 'stale write-ahead log')
    writeFileSync(`${restoredDb()}-shm`, 'stale shared memory')
    const forced = omnigate(target, 'restore', backupFile(), '--force')
    expect(forced.stderr).toBe('')
    expect(forced.code).toBe(0)
    expect(existsSync(`${restoredDb()}-wal`)).toBe(false)
    expect(existsSync(`${restoredDb()}-shm`)).toBe(false)
    expect(tableCounts(restoredDb()).messages).toBe(5)
  })

  test('refuses what is not an omnigate backup, leaving the database alone', () => {
    const before = tableCounts(restoredDb())
    const text = join(work.path, 'notes.txt')
    writeFileSync(text, 'not a database at all, just some words that are long enough to look like a file header')
    const other = join(work.path, 'other.db')
    const db = new Database(other)
    db.run('CREATE TABLE things (id INTEGER PRIMARY KEY)')
    db.close()
    const future = join(work.path, 'future.db')
    copyFileSync(backupFile(), future)
    const f = new Database(future)
    f.run("INSERT INTO omnigate_migrations (idx, tag, applied_at) VALUES (999, '0999_from_the_future', 0)")
    f.close()

    const cases: [string, string][] = [
      [text, `error: restore: ${text} is not an SQLite database\n`],
      [other, `error: restore: ${other} is not an omnigate database (it has no omnigate_migrations table)\n`],
      [join(work.path, 'missing.db'), `error: restore: ${join(work.path, 'missing.db')} does not exist or is not a file\n`],
    ]
    for (const [file, message] of cases) {
      const { code, stderr } = omnigate(target, 'restore', file, '--force')
      expect(stderr).toBe(message)
      expect(code).toBe(2)
    }
    const newer = omnigate(target, 'restore', future, '--force')
    expect(newer.code).toBe(2)
    expect(newer.stderr).toContain('has schema migration 0999_from_the_future, which this omnigate does not know')
    // A live database (its WAL beside it) is refused too: copying the main file would lose commits.
    const live = omnigate(target, 'restore', source, '--force')
    expect(live.code).toBe(2)
    expect(live.stderr).toContain('it is a live database, not a backup')
    expect(tableCounts(restoredDb())).toEqual(before)
  })
})
