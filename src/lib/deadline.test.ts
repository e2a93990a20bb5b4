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

  test('reuses a parent deadline that gives up no later, and is shorter under a longer one', async () => {
    const outer = deadlineSignal(10_000)
    expect(deadlineSignal(20_000, outer.signal).signal).toBe(outer.signal)
    const inner = deadlineSignal(40, outer.signal)
    expect(inner.signal).not.toBe(outer.signal)
    expect(((await aborted(inner.signal)) as DOMException).name).toBe('TimeoutError')
    expect(outer.signal.aborted).toBe(false)
    outer.release()
    // Released, the outer no longer fires: a deadline made under it now keeps time itself.
    const after = deadlineSignal(20_000, outer.signal)
    expect(after.signal).not.toBe(outer.signal)
    after.release()
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
