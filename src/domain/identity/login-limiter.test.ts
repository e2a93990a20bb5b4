import { expect, test } from 'bun:test'
import { LoginLimiter } from './login-limiter'

test('n attempts a minute per key, refilled evenly; a refusal takes nothing', () => {
  let t = 0
  const limiter = new LoginLimiter(6, () => t)
  for (let i = 0; i < 6; i++) expect(limiter.take(['account:a', 'ip:1'])).toEqual({ ok: true })
  expect(limiter.take(['account:a', 'ip:2'])).toEqual({ ok: false, retryAfterSeconds: 10 })
  // The refused attempt did not spend ip:2's tokens.
  for (let i = 0; i < 6; i++) expect(limiter.take(['account:b', 'ip:2']).ok).toBe(true)
  t += 9_999
  expect(limiter.take(['account:a']).ok).toBe(false)
  t += 1
  expect(limiter.take(['account:a']).ok).toBe(true)
  expect(limiter.take(['account:a']).ok).toBe(false)
  // A long pause refills to the limit, not beyond it.
  t += 3_600_000
  for (let i = 0; i < 6; i++) expect(limiter.take(['account:a']).ok).toBe(true)
  expect(limiter.take(['account:a']).ok).toBe(false)
})

test('the wait reported is that of the emptiest key', () => {
  let t = 0
  const limiter = new LoginLimiter(1, () => t)
  expect(limiter.take(['x']).ok).toBe(true)
  t += 30_000
  expect(limiter.take(['y']).ok).toBe(true)
  expect(limiter.take(['x', 'y'])).toEqual({ ok: false, retryAfterSeconds: 60 })
})
