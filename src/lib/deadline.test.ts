import { describe, expect, test } from 'bun:test'
import { deadlineSignal } from './deadline'

const aborted = (signal: AbortSignal) => new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }))

describe('deadlineSignal', () => {
  test('aborts with a TimeoutError once its time is up', async () => {
    const started = performance.now()
    const { signal } = deadlineSignal(60)
    const reason = (await aborted(signal)) as DOMException
    expect(reason.name).toBe('TimeoutError')
    expect(performance.now() - started).toBeGreaterThanOrEqual(55)
  })

  test("aborts with the parent's reason when the parent aborts first", async () => {
    const parent = new AbortController()
    const { signal } = deadlineSignal(10_000, parent.signal)
    const why = new Error('shutdown')
    setTimeout(() => parent.abort(why), 10)
    expect(await aborted(signal)).toBe(why)
  })

  test('is aborted at once under a parent that already is', () => {
    const parent = new AbortController()
    parent.abort(new Error('gone'))
    const { signal } = deadlineSignal(10_000, parent.signal)
    expect(signal.aborted).toBe(true)
    expect((signal.reason as Error).message).toBe('gone')
  })

  test('once released, neither its time nor its parent aborts it', async () => {
    const parent = new AbortController()
    const { signal, release } = deadlineSignal(30, parent.signal)
    release()
    await Bun.sleep(60)
    parent.abort(new Error('later'))
    expect(signal.aborted).toBe(false)
  })

  test('keeps its own time under a parent that was released, and follows one that times out first', async () => {
    // A request still running after its caller released the parent (one of several fetches of a
    // send that already failed) must still time out.
    const outer = deadlineSignal(40)
    const inner = deadlineSignal(60, outer.signal)
    outer.release()
    expect(((await aborted(inner.signal)) as DOMException).name).toBe('TimeoutError')
    expect(outer.signal.aborted).toBe(false)
    const shorter = deadlineSignal(40)
    const longer = deadlineSignal(20_000, shorter.signal)
    expect(((await aborted(longer.signal)) as DOMException).name).toBe('TimeoutError')
    longer.release()
  })

  test('a pending deadline does not keep the process alive, as AbortSignal.timeout does not', async () => {
    const child = Bun.spawn([process.execPath, '-e', `const { deadlineSignal } = await import(${JSON.stringify(`${import.meta.dir}/deadline.ts`)}); deadlineSignal(60_000)`], {
      stdout: 'ignore',
      stderr: 'pipe',
    })
    const exited = await Promise.race([child.exited, Bun.sleep(4_000).then(() => 'still running')])
    if (exited === 'still running') child.kill()
    expect(exited).toBe(0)
  })
})
