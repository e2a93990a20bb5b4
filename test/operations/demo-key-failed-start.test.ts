/**
 * Quick start: the demo namespace's one-time key is created and printed only once the port is
 * bound. (It was printed before: when the port was taken, the key belonged to a start that never
 * served, and the next start printed none.) A start whose demo namespace cannot be written
 * stops what it started and exits 1 (it went on serving without it, /readyz 200).
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { eventually } from '../helpers/gateway'
import { tempDir } from '../helpers/stores'
import { freePort } from '../helpers/start'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
const dir = tempDir()
afterAll(() => dir.cleanup())

test('a demo start that cannot bind its port does not use up the one-time demo key', async () => {
  const busy = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('someone else') })
  const failed = Bun.spawnSync([process.execPath, MAIN, 'serve', '--listen', `127.0.0.1:${busy.port}`], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '' },
  })
  busy.stop(true)
  expect(failed.exitCode).toBe(1)
  expect(failed.stderr.toString()).toContain('cannot listen on')

  const port = freePort()
  const proc = Bun.spawn([process.execPath, MAIN, 'serve', '--listen', `127.0.0.1:${port}`], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '' },
    stdout: 'pipe',
    stderr: 'ignore',
  })
  let out = ''
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  const deadline = Date.now() + 15_000
  while (!out.includes('omnigate listening on') && Date.now() < deadline) {
    const { value, done } = await reader.read()
    if (done) break
    out += new TextDecoder().decode(value)
  }
  proc.kill('SIGTERM')
  await proc.exited
  expect(out).toContain('omnigate listening on')
  // The failed start printed the key (to a terminal, or to the logs of a `docker run --rm` that is gone):
  expect(failed.stdout.toString()).not.toContain('OMNIGATE_API_KEY=')
  expect(out).toContain('OMNIGATE_API_KEY=og_live_')
})

test('a demo start whose demo namespace cannot be written stops everything it started and exits 1', async () => {
  const own = tempDir()
  try {
    const port = freePort()
    const start = () =>
      Bun.spawn([process.execPath, MAIN, 'serve', '--listen', `127.0.0.1:${port}`], { cwd: own.path, env: { PATH: process.env.PATH ?? '' }, stdout: 'pipe', stderr: 'pipe' })
    // A first start makes the database; then the demo namespace is moved aside and can no longer be made.
    const first = start()
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => null)) === 200, 15_000)
    first.kill('SIGTERM')
    await first.exited
    const db = new Database(join(own.path, 'data', 'omnigate.db'))
    db.run("UPDATE namespaces SET slug = 'old-demo' WHERE slug = 'demo'")
    db.run("CREATE TRIGGER no_demo BEFORE INSERT ON namespaces WHEN NEW.slug = 'demo' BEGIN SELECT RAISE(ABORT, 'the demo namespace is refused'); END")
    db.close()

    const second = start()
    const exited = await Promise.race([second.exited, Bun.sleep(10_000).then(() => 'still running')])
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => null)
    if (exited === 'still running') second.kill('SIGKILL')
    expect({ exited, readyz }).toEqual({ exited: 1, readyz: null })
    expect(await new Response(second.stderr as ReadableStream).text()).toContain('the demo namespace is refused')
  } finally {
    own.cleanup()
  }
}, 40_000)
