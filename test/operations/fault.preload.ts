// Preloaded into `omnigate serve` by serve-failures.test.ts: on SIGUSR2, a bug of the kind
// OMNIGATE_TEST_FAULT names happens in the background, from a timer, as it would in a worker.
process.on('SIGUSR2', () => {
  setTimeout(() => {
    if (process.env.OMNIGATE_TEST_FAULT === 'reject') void Promise.reject(new Error('injected: a write failed')).finally(() => {})
    else throw new Error('injected: a timer threw')
  }, 0)
})
