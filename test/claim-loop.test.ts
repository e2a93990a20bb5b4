/**
 * The claim loop shared by the dispatcher and the webhook deliverer: how wakes turn into claims.
 */
import { expect, test } from 'bun:test'
import { ClaimLoop } from '../src/engine/claim-loop'
import { silentLogger } from '../src/lib/log'

function countingLoop() {
  const counts = { claims: 0 }
  const loop = new ClaimLoop<{ id: string }>(
    {
      name: 'test loop',
      concurrency: 8,
      batchSize: 8,
      pollIntervalMs: 60_000,
      shutdownTimeoutMs: 1_000,
      claim: async () => {
        counts.claims++
        return []
      },
      process: async () => {},
      release: async () => {},
    },
    silentLogger,
  )
  return { loop, counts }
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
  const { loop, counts } = countingLoop()
  loop.start()
  await Bun.sleep(20)
  const before = counts.claims
  await everyTurn(300, () => loop.wake())
  await loop.stop()
  expect(counts.claims - before).toBeGreaterThanOrEqual(5)
})

test('without wakes, an idle loop claims only at its poll interval', async () => {
  const { loop, counts } = countingLoop()
  loop.start()
  await Bun.sleep(150)
  await loop.stop()
  // The first claim at start; the next poll is a minute away.
  expect(counts.claims).toBe(1)
})
