/**
 * The claim loop's one timer (a pending timer that fires sooner is kept): a wake replaces a
 * far poll, stop and start around pending timers and claims, a full loop refilling its slots.
 */
import { expect, test } from 'bun:test'
import { ClaimLoop } from '../src/engine/claim-loop'
import { silentLogger } from '../src/lib/log'

function loop(opts: { poll?: number; claimMs?: number; items?: () => { id: string }[]; processMs?: number; concurrency?: number } = {}) {
  const counts = { claims: 0, processed: 0 }
  const l = new ClaimLoop<{ id: string }>(
    {
      name: 'probe',
      concurrency: opts.concurrency ?? 8,
      batchSize: 8,
      pollIntervalMs: opts.poll ?? 60_000,
      shutdownTimeoutMs: 500,
      claim: async () => {
        counts.claims++
        if (opts.claimMs) await Bun.sleep(opts.claimMs)
        return opts.items?.() ?? []
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
