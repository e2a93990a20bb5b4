/**
 * A CLI command whose config points at a database that is not there, nor its directory (a volume
 * not mounted, a relative `file:` path run from the wrong directory), is a one-line error and
 * creates nothing. (It created and migrated a fresh database and answered from it: `namespace
 * list` said "(none)" with exit 0.) A missing file in an existing directory is a fresh install.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../src/lib/secrets'
import { tempDir } from './helpers/stores'

const MAIN = join(import.meta.dir, '..', 'src', 'main.ts')
let dir: ReturnType<typeof tempDir>
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => dir.cleanup())

test('namespace list on a missing database is a one-line error, and creates nothing', () => {
  const db = join(dir.path, 'not-mounted', 'omnigate.db')
  const path = join(dir.path, 'omnigate.toml')
  writeFileSync(path, `[database]\nurl = "file:${db}"\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  const proc = Bun.spawnSync([process.execPath, MAIN, '--config', path, 'namespace', 'list'], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: generateMasterKey() },
  })
  const stderr = proc.stderr.toString()
  expect({ code: proc.exitCode, stdout: proc.stdout.toString(), created: existsSync(db) }).toEqual({ code: 1, stdout: '', created: false })
  expect(stderr.trim().split('\n')).toHaveLength(1)
  expect(stderr).toContain(db)
})

