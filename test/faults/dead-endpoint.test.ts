/**
 * A dead endpoint fails a publish with a coded error within a bounded time (the product promises
 * well within a minute): a closed loopback port (connection refused), and a stalled endpoint that
 * accepts connections and never answers (the fault proxy with every request stalled), where only
 * the client's timeout can end the publish. Elapsed wall time is measured around the build.
 *
 * The request timeout comes from src/publish/s3.ts (`requestTimeoutMs`, default 30 s, per attempt,
 * `maxAttempts` 3); the plugin's publish options offer no way to change either.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { createS3Store } from '../../src/bucket/s3.js'
import { adminClient, closedPort, createBucket, credsEnv, readObject, withEnv, type EnvVars } from '../helpers/s3.js'
import { runSeed, startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { app, CODES, lockServer, publishApp, removeApps } from './support.js'

const servers = inject('s3servers')
const BOUND_MS = 60_000
const SEED = runSeed()
/** Credentials never checked: nothing answers. */
const ENV: EnvVars = { AWS_ACCESS_KEY_ID: 'AKIADEADENDPOINT0001', AWS_SECRET_ACCESS_KEY: 'dead/endpoint/secret/key/never/used/0001', AWS_REGION: 'us-east-1' }

afterAll(removeApps)

describe('publishing to a dead endpoint', () => {
  let stalled: FaultProxy
  const timings: string[] = []
  beforeAll(async () => {
    // upstream is a closed port, but nothing is ever forwarded: every request stalls
    stalled = await startFaultProxy(`http://127.0.0.1:${await closedPort()}`, { seed: SEED, rates: { stall: 1 } })
  })
  afterAll(async () => {
    console.log(`[faults] dead-endpoint: ${timings.join('; ')}`)
    await stalled?.close()
  })

  test('a closed loopback port: ENDPOINT_UNREACHABLE (ECONNREFUSED) within 60 s', async () => {
    const port = await closedPort()
    const a = app()
    const t0 = performance.now()
    const p = await publishApp(ENV, a, 'cdn-dead-endpoint', `http://127.0.0.1:${port}`, { releases: 2, minAge: 0, grace: 0 })
    const ms = performance.now() - t0
    timings.push(`closed port ${(ms / 1000).toFixed(2)} s ${p.code}`)
    expect(p.ok).toBe(false)
    expect(p.code).toBe('ENDPOINT_UNREACHABLE')
    expect(p.message).toContain('ECONNREFUSED')
    expect(p.message).toContain(`http://127.0.0.1:${port}`)
    expect(p.message).toContain('Nothing was written')
    expect(ms).toBeLessThanOrEqual(BOUND_MS)
  })

  // With the defaults of s3.ts, a stalled request fails after 30 s without bytes and is retried
  // twice: 3 x 30 s plus backoff, about 90 s, before the publish fails.
  test('a stalled endpoint (accepts, never answers): a coded error within 60 s', async () => {
    const a = app()
    const t0 = performance.now()
    const p = await publishApp(ENV, a, 'cdn-stalled-endpoint', stalled.endpoint, { releases: 2, minAge: 0, grace: 0 })
    const ms = performance.now() - t0
    const attempts = stalled.requests().length
    timings.push(`stalled endpoint ${(ms / 1000).toFixed(2)} s ${p.code} after ${attempts} request attempt(s)`)
    expect(p.ok).toBe(false)
    expect(CODES.has(p.code!), `${p.code}: ${p.message}`).toBe(true)
    expect(p.code).toBe('ENDPOINT_UNREACHABLE')
    expect(p.message).toContain('timeout')
    expect(stalled.injected().stall).toBeGreaterThan(0)
    expect(ms, `publish to a stalled endpoint took ${(ms / 1000).toFixed(1)} s (${attempts} attempts)`).toBeLessThanOrEqual(BOUND_MS)
  }, 200_000)

  test('the store with a short requestTimeoutMs gives up on a stalled endpoint after maxAttempts timeouts', async () => {
    stalled.clearLog()
    const store = createS3Store({ bucket: 'cdn-stalled-endpoint', endpoint: stalled.endpoint, forcePathStyle: true, requestTimeoutMs: 1_000, maxAttempts: 3 })
    const t0 = performance.now()
    const e = await withEnv(ENV, () => store.list('site/')).then(
      () => undefined,
      (err: { code?: string; message?: string }) => err,
    )
    const ms = performance.now() - t0
    timings.push(`store list, requestTimeoutMs 1000: ${(ms / 1000).toFixed(2)} s ${e?.code}`)
    expect(e?.code).toBe('ENDPOINT_UNREACHABLE')
    expect(e?.message).toContain('timeout')
    expect(stalled.requests()).toHaveLength(3)
    expect(ms).toBeGreaterThanOrEqual(3 * 1_000 - 100)
    expect(ms).toBeLessThanOrEqual(BOUND_MS)
  }, 60_000)
})

const server = servers[0]
describe(`a stalled request to ${server.name} is abandoned after the timeout and retried`, () => {
  const admin = adminClient(server)
  let proxy: FaultProxy
  let unlock: (() => void) | undefined
  let bucket: string
  beforeAll(async () => {
    unlock = await lockServer(server)
    proxy = await startFaultProxy(server.endpoint, { seed: SEED })
    bucket = await createBucket(admin, 'fault-stall')
  }, 600_000)
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
    unlock?.()
  })

  test('the first PUT stalls, its retry lands the object', async () => {
    let puts = 0
    proxy.override((r) => (r.method === 'PUT' ? (++puts === 1 ? 'stall' : 'pass') : undefined))
    const store = createS3Store({ bucket, endpoint: proxy.endpoint, region: server.region, forcePathStyle: true, requestTimeoutMs: 1_000 })
    const body = Buffer.from('landed after a stalled attempt')
    await withEnv(credsEnv(server), () =>
      store.put({ key: 'site/stalled.txt', body, contentLength: body.length, contentType: 'text/plain', cacheControl: 'no-cache' }),
    ).finally(() => proxy.override(undefined))
    expect(puts).toBe(2)
    expect(proxy.injected().stall).toBe(1)
    expect((await readObject(admin, bucket, 'site/stalled.txt')).bytes.equals(body)).toBe(true)
  }, 60_000)
})
