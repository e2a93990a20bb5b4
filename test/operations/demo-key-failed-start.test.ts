/**
 * Quick start: the demo namespace's one-time key is created and printed only once the port is
 * bound. (It was printed before: when the port was taken, the key belonged to a start that never
 * served, and the next start printed none.)
 */
import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { tempDir } from '../helpers/stores'

const MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')
const dir = tempDir()
afterAll(() => dir.cleanup())

function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = probe.port as number
  probe.stop(true)
  return port
}

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
