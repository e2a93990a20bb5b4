/**
 * The claim loop shared by the dispatcher and the webhook deliverer: how wakes turn into claims,
 * and its one timer (a pending timer that fires sooner is kept) around stop and start, slow
 * claims and a full loop refilling its slots.
 */
import { expect, test } from 'bun:test'
import { ClaimLoop } from '../src/engine/claim-loop'
import { silentLogger } from '../src/lib/log'

/** A loop over nothing real (a minute between polls unless `poll`), counting its claims and processed items. */
function loop(opts: { poll?: number; claimMs?: number; items?: () => { id: string }[]; processMs?: number; concurrency?: number } = {}) {
  const counts = { claims: 0, processed: 0 }
  const l = new ClaimLoop<{ id: string }>(
    {
      name: 'test loop',
      concurrency: opts.concurrency ?? 8,
      batchSize: 8,
      pollIntervalMs: opts.poll ?? 60_000,
      shutdownTimeoutMs: 500,
      claim: async () => {
        counts.claims++
        if (opts.claimMs) await Bun.sleep(opts.claimMs)
        return { items: opts.items?.() ?? [] }
      },
      process: async () => {
        if (opts.processMs) await Bun.sleep(opts.processMs)
        counts.processed++
      },
      release: async () => {},
    },
    silentLogger,
  )
  return { l, counts }
}

/** Calls `fn` on every turn of the event loop for `ms`. */
function everyTurn(ms: number, fn: () => void): Promise<void> {
  const until = performance.now() + ms
  return new Promise((resolve) => {
    const turn = () => {
      fn()
      if (performance.now() < until) setImmediate(turn)
      else resolve()
    }
    turn()
  })
}

test('wakes that come faster than a timer fires still lead to claims', async () => {
  // A busy gateway wakes its loops on every commit. Re-arming the claim's timer on each wake put
  // the claim off for as long as the wakes kept coming (deliveries waited hundreds of ms).
  const { l, counts } = loop()
  l.start()
  await Bun.sleep(20)
  const before = counts.claims
  await everyTurn(300, () => l.wake())
  await l.stop()
  expect(counts.claims - before).toBeGreaterThanOrEqual(5)
})

test('without wakes, an idle loop claims only at its poll interval', async () => {
  const { l, counts } = loop()
  l.start()
  await Bun.sleep(150)
  await l.stop()
  // The first claim at start; the next poll is a minute away.
  expect(counts.claims).toBe(1)
})

test('a wake with the poll timer pending claims at once', async () => {
  const { l, counts } = loop()
  l.start()
  await Bun.sleep(30)
  expect(counts.claims).toBe(1)
  l.wake()
  await Bun.sleep(30)
  expect(counts.claims).toBe(2)
  await l.stop()
})

test('stop with a claim timer pending, then start: claims again, wakes work', async () => {
  const { l, counts } = loop()
  l.start()
  await Bun.sleep(30)
  l.wake() // arms a 0 timer
  await l.stop() // clears it
  await Bun.sleep(30)
  expect(counts.claims).toBe(1)
  l.start()
  await Bun.sleep(30)
  expect(counts.claims).toBe(2)
  l.wake()
  await Bun.sleep(30)
  expect(counts.claims).toBe(3)
  await l.stop()
})

test('wakes during a slow claim lead to one more claim, then the poll', async () => {
  const { l, counts } = loop({ claimMs: 50 })
  l.start()
  await Bun.sleep(10)
  for (let i = 0; i < 10; i++) l.wake()
  await Bun.sleep(250)
  expect(counts.claims).toBe(2)
  await l.stop()
})

test('start while a stop waits for the claim in progress', async () => {
  const { l, counts } = loop({ claimMs: 50 })
  l.start()
  await Bun.sleep(10)
  const stopping = l.stop()
  l.start()
  await stopping
  await Bun.sleep(150)
  const c = counts.claims
  l.wake()
  await Bun.sleep(100)
  expect(counts.claims).toBeGreaterThan(c)
  await l.stop()
})

test('a full loop claims again when a slot frees, with a poll timer never armed', async () => {
  let n = 0
  const { l, counts } = loop({ concurrency: 1, processMs: 20, items: () => (n < 5 ? [{ id: String(n++) }] : []) })
  l.start()
  await Bun.sleep(400)
  expect(counts.processed).toBe(5)
  await l.stop()
})
