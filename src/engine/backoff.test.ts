import { expect, test } from 'bun:test'
import { backoffDelay } from './backoff'

test('the delay doubles per attempt, within its jitter band, and stops at the cap', () => {
  expect(backoffDelay(1, 1000, 60_000, () => 0)).toBe(500)
  expect(backoffDelay(1, 1000, 60_000, () => 1)).toBe(1000)
  expect(backoffDelay(4, 1000, 60_000, () => 0)).toBe(4000)
  expect(backoffDelay(4, 1000, 60_000, () => 1)).toBe(8000)
  expect(backoffDelay(30, 1000, 60_000, () => 1)).toBe(60_000)
})
