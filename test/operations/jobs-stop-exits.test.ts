/**
 * Shutdown with a scheduled job mid-run: the process exits as soon as the job has finished. (The
 * job was raced against a `Bun.sleep` nobody cleared, so the process stayed alive for the whole
 * `engine.shutdown_timeout_ms`, Docker's default stop grace: the container was SIGKILLed.)
 */
import { afterAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/stores'

const SRC = join(import.meta.dir, '..', '..', 'src')
const dir = tempDir()
afterAll(() => dir.cleanup())

test('the process exits promptly once a stopped job has finished, not after the whole shutdown timeout', async () => {
  const script = join(dir.path, 'stop.ts')
  writeFileSync(
    script,
    `
import { JobRunner } from '${SRC}/engine/jobs'
import { openBunSqliteStore } from '${SRC}/store/bun-sqlite'
import { migrate } from '${SRC}/store/migrate'
import { silentLogger } from '${SRC}/lib/log'
const store = openBunSqliteStore('${join(dir.path, 'og.db')}', { synchronous: 'NORMAL', busyTimeoutMs: 5000 })
await migrate(store)
const runner = new JobRunner(store, silentLogger)
// A job that stops as soon as it is asked to (as retention and the purge do between batches).
runner.define({ name: 'busy', schedule: '0 0 1 1 *', run: (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) })
runner.start()
const running = runner.run('busy')
await Bun.sleep(100)
await runner.stop(8000) // engine.shutdown_timeout_ms
await running
await store.close()
console.log('stopped')
`,
  )
  const proc = Bun.spawn([process.execPath, script], { cwd: dir.path, stdout: 'pipe', stderr: 'pipe' })
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  let out = ''
  while (!out.includes('stopped')) {
    const { value, done } = await reader.read()
    if (done) break
    out += new TextDecoder().decode(value)
  }
  expect(out).toContain('stopped')
  const stoppedAt = Date.now()
  const exitedInTime = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)])
  const lingered = Date.now() - stoppedAt
  if (!exitedInTime) {
    proc.kill('SIGKILL')
    await proc.exited
  }
  expect({ exitedInTime, lingeredUnder3s: lingered < 3000 }).toEqual({ exitedInTime: true, lingeredUnder3s: true })
})
