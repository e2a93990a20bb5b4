import { expect, test } from 'bun:test'
import { join } from 'node:path'

// Bun runs TypeScript without checking it; this keeps a type error from landing unnoticed.
test('the project type-checks', () => {
  const root = join(import.meta.dir, '..')
  const proc = Bun.spawnSync([join(root, 'node_modules', '.bin', 'tsc'), '--noEmit', '-p', root], { cwd: root })
  const output = proc.stdout.toString() + proc.stderr.toString()
  expect(output).toBe('')
  expect(proc.exitCode).toBe(0)
}, 60_000)
