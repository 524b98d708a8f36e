/**
 * Which failures are worth another try: 408, 429 and 5xx are; every other 4xx is not, for the API
 * client and the media client alike (issue 10: "permanent errors are retried 6 times").
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isTransient } from '../../src/flickr/failure.js'
import { isTransientStatus } from '../../src/flickr/index.js'

void test('408, 429 and 5xx are transient; 400, 401, 403, 404, 410 and 416 are permanent', () => {
  for (const [status, transient] of [[408, true], [429, true], [500, true], [503, true], [400, false], [401, false], [403, false], [404, false], [410, false], [416, false]] as const) {
    const response = new Response(null, { status })
    assert.equal(isTransient({ kind: 'http', status, statusText: '', response }), transient, `API HTTP ${status}`)
    assert.equal(isTransientStatus(status), transient, `media HTTP ${status}`)
  }
})
