import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sendOutcomeOf } from './status-reporter.ts'

const res = (status: number, headers: Record<string, string> = {}) => ({ status, headers: new Headers(headers) })

test('HTTP answers map to outcomes: 2xx sent, Retry-After and rate-limit resets pause, 4xx give up, 5xx retry', () => {
  assert.equal(sendOutcomeOf(res(201)), { ok: true })
  assert.equal(sendOutcomeOf(res(429, { 'retry-after': '7' })), { retryAfter: 7 })
  assert.equal(sendOutcomeOf(res(403, { 'retry-after': '60' })), { retryAfter: 60 })
  const date = 'Wed, 21 Oct 2037 07:28:00 GMT'
  assert.equal(sendOutcomeOf(res(429, { 'retry-after': date })), { retryAt: Date.parse(date) })
  assert.equal(sendOutcomeOf(res(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2000000000' }), 1000), { retryAt: 2_000_000_000_000 })
  assert.equal(sendOutcomeOf(res(429)), { retryAfter: 60 })
  assert.equal(sendOutcomeOf(res(403)), { error: 'HTTP 403', permanent: true })
  assert.equal(sendOutcomeOf(res(422)), { error: 'HTTP 422', permanent: true })
  assert.equal(sendOutcomeOf(res(500)), { error: 'HTTP 500', permanent: false })
  assert.equal(sendOutcomeOf(res(408)), { error: 'HTTP 408', permanent: false })
})

test.run()
