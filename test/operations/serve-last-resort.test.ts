/**
 * `omnigate serve` (the real command, a process of its own) when a bug slips through in the
 * background: a promise rejection nothing handles is logged with its stack and the gateway goes
 * on serving, then stops with exit 0; an exception nothing catches is logged and the gateway
 * stops as on SIGTERM, with exit 1. Before, Bun printed either raw, kept going and exited 1 at
 * the end (docs/decisions.md). The fault is preloaded (fault.preload.ts) and set off by SIGUSR2.
 */
import { afterAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateMasterKey } from '../../src/lib/secrets'
import { eventually } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'
import { freePort } from '../helpers/start'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
const PRELOAD = join(import.meta.dir, 'fault.preload.ts')
const dir = tempDir()
const procs: ReturnType<typeof Bun.spawn>[] = []
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL')
    await p.exited
  }
  dir.cleanup()
})


async function serveWithFault(fault: 'reject' | 'throw') {
  const port = freePort()
  const path = join(dir.path, `${fault}.toml`)
  writeFileSync(path, `[database]\nurl = "file:${join(dir.path, `${fault}.db`)}"\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n`)
  const proc = Bun.spawn([process.execPath, '--preload', PRELOAD, MAIN, '--config', path, 'serve', '--listen', `127.0.0.1:${port}`], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: generateMasterKey(), OMNIGATE_TEST_FAULT: fault },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  procs.push(proc)
  const readyz = () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => null)
  await eventually(async () => (await readyz()) === 200)
  proc.kill('SIGUSR2')
  return { proc, readyz }
}

const exitWithin = (proc: ReturnType<typeof Bun.spawn>, ms: number) => Promise.race([proc.exited, Bun.sleep(ms).then(() => 'still running')])

test('an unhandled rejection is logged with its stack; the gateway goes on serving and then stops with exit 0', async () => {
  const { proc, readyz } = await serveWithFault('reject')
  await Bun.sleep(300)
  expect(await readyz()).toBe(200)
  proc.kill('SIGTERM')
  expect(await exitWithin(proc, 8000)).toBe(0)
  const stderr = await new Response(proc.stderr as ReadableStream).text()
  const line = stderr.split('\n').find((l) => l.includes('unhandled rejection'))
  expect(line).toContain('unhandled rejection (a bug: please report it); the gateway goes on')
  expect(line).toContain('injected: a write failed')
  expect(line).toContain('fault.preload.ts')
  expect(stderr).toContain('stopped')
}, 20_000)

test('an uncaught exception is logged with its stack, and the gateway stops as on SIGTERM, with exit 1', async () => {
  const { proc, readyz } = await serveWithFault('throw')
  expect(await exitWithin(proc, 8000)).toBe(1)
  expect(await readyz()).toBeNull()
  const stderr = await new Response(proc.stderr as ReadableStream).text()
  const line = stderr.split('\n').find((l) => l.includes('uncaught exception'))
  expect(line).toContain('uncaught exception (a bug: please report it); stopping')
  expect(line).toContain('injected: a timer threw')
  expect(stderr).toContain('shutting down')
  expect(stderr).toContain('stopped')
}, 20_000)
