import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { TokenBucket, TokenBuckets } from './token-bucket'

describe('TokenBucket', () => {
  test('starts full, refuses when empty, and refills at its rate', () => {
    const bucket = new TokenBucket(2, 2, 0)
    expect(bucket.take(0)).toMatchObject({ ok: true, remaining: 1 })
    expect(bucket.take(0)).toMatchObject({ ok: true, remaining: 0, resetMs: 1000 })
    expect(bucket.take(0)).toMatchObject({ ok: false, remaining: 0, retryAfterMs: 500 })
    // Half a second later one token is back, and no more.
    expect(bucket.take(499).ok).toBe(false)
    expect(bucket.take(500)).toMatchObject({ ok: true, remaining: 0 })
    expect(bucket.take(500).ok).toBe(false)
    // Never more than its capacity, however long it waited.
    expect(bucket.peek(60_000)).toMatchObject({ ok: true, remaining: 2, resetMs: 0 })
  })

  test('a refused take takes nothing', () => {
    const bucket = new TokenBucket(1, 3, 0)
    expect(bucket.take(0, 2).ok).toBe(true)
    expect(bucket.take(0, 2)).toMatchObject({ ok: false, remaining: 1, retryAfterMs: 1000 })
    expect(bucket.take(0, 1)).toMatchObject({ ok: true, remaining: 0 })
  })

  test('a clock that goes backwards refills nothing', () => {
    const bucket = new TokenBucket(1, 1, 10_000)
    expect(bucket.take(10_000).ok).toBe(true)
    expect(bucket.take(0).ok).toBe(false)
    expect(bucket.take(10_999).ok).toBe(false)
    expect(bucket.take(11_000).ok).toBe(true)
  })

  test('reservations space uses 1/rate apart and refuse waits longer than asked', () => {
    const bucket = new TokenBucket(5, 1, 0)
    expect(bucket.reserve(0, 500)).toBe(0)
    expect(bucket.reserve(0, 500)).toBe(200)
    expect(bucket.reserve(0, 500)).toBe(400)
    // The next slot is 600 ms away: nothing is reserved, so the one after stays at 600.
    expect(bucket.reserve(0, 500)).toBeNull()
    expect(bucket.waitFor(0)).toBe(600)
    expect(bucket.reserve(100, 500)).toBe(500)
  })

  test('configure lowers the capacity at once', () => {
    const bucket = new TokenBucket(10, 10, 0)
    bucket.configure(1, 1)
    expect(bucket.take(0).ok).toBe(true)
    expect(bucket.take(0).ok).toBe(false)
  })

  test('property: over any schedule, no more than capacity + rate × elapsed tokens are granted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 200 }),
        (rate, capacity, gaps) => {
          const bucket = new TokenBucket(rate, capacity, 0)
          let at = 0
          let granted = 0
          for (const gap of gaps) {
            at += gap
            if (bucket.take(at).ok) granted++
          }
          expect(granted).toBeLessThanOrEqual(capacity + Math.floor((at / 1000) * rate) + 1e-9)
        },
      ),
    )
  })

  test('property: reserved slots are never closer than 1/rate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 100 }), (rate, gaps) => {
        const bucket = new TokenBucket(rate, 1, 0)
        const slots: number[] = []
        let at = 0
        for (const gap of gaps) {
          at += gap
          const wait = bucket.reserve(at, Number.POSITIVE_INFINITY)!
          slots.push(at + wait)
        }
        slots.sort((a, b) => a - b)
        // Rounding up to whole milliseconds may only make slots later, never closer.
        for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(Math.floor(1000 / rate) - 1)
      }),
    )
  })
})

describe('TokenBuckets', () => {
  test('one bucket per key, reconfigured on use', () => {
    const buckets = new TokenBuckets()
    expect(buckets.get('a', 1, 1, 0).take(0).ok).toBe(true)
    expect(buckets.get('a', 1, 1, 0).take(0).ok).toBe(false)
    expect(buckets.get('b', 1, 1, 0).take(0).ok).toBe(true)
  })

  test('stays bounded, forgetting only full buckets first', () => {
    const buckets = new TokenBuckets(3)
    buckets.get('busy', 1, 1, 0).take(0)
    buckets.get('idle-1', 1, 1, 0)
    buckets.get('idle-2', 1, 1, 0)
    buckets.get('new', 1, 1, 0)
    expect(buckets.size).toBe(2)
    // The busy bucket survived with its state.
    expect(buckets.get('busy', 1, 1, 0).take(0).ok).toBe(false)
  })
})
