/**
 * `omnigate serve` logs a rejection nothing handled, with its stack, and goes on serving; Bun's
 * default ends the process, and with it every request in flight (docs/decisions.md).
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'

const CHILD = join(import.meta.dir, 'unhandled-rejection.child.ts')
const run = (...args: string[]) => {
  const proc = Bun.spawnSync([process.execPath, CHILD, ...args], { stdout: 'pipe', stderr: 'pipe' })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}

test("serve's handler: the rejection is one error line with its stack, and the process goes on", () => {
  const { code, stdout, stderr } = run('guarded')
  expect(code).toBe(0)
  expect(stdout).toBe('still serving\n')
  const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>)
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatchObject({ level: 'error', msg: 'unhandled rejection (a bug: please report it); the gateway goes on' })
  expect(lines[0]!.error).toStartWith('Error: the write failed\n')
  expect(lines[0]!.error).toContain('unhandled-rejection.child.ts')
})

test('without it, Bun ends the process (what serve did before)', () => {
  const { code, stdout, stderr } = run()
  expect(code).toBe(1)
  expect(stdout).toBe('')
  expect(stderr).toContain('the write failed')
})
