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
import { keyedConfig, runCli } from './helpers/cli'

let dir: ReturnType<typeof tempDir>
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => dir.cleanup())

test('namespace list on a missing database is a one-line error, and creates nothing', () => {
  const db = join(dir.path, 'not-mounted', 'omnigate.db')
  const path = join(dir.path, 'omnigate.toml')
  writeFileSync(path, keyedConfig(db))
  const { code, stdout, stderr } = runCli(['--config', path, 'namespace', 'list'], { cwd: dir.path, masterKey: generateMasterKey() })
  expect({ code, stdout, created: existsSync(db) }).toEqual({ code: 1, stdout: '', created: false })
  expect(stderr.trim().split('\n')).toHaveLength(1)
  expect(stderr).toContain(db)
})

