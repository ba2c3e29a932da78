/**
 * Publishing through injected faults: N publishes of a changing build (each followed by a prune),
 * through a seeded fault proxy that answers 10% of the requests with 500 InternalError / 503
 * SlowDown or resets the connection (before forwarding, or after the server did the work). After
 * every attempt, read directly from the server: the stable manifest names a complete release,
 * every file present with its integrity. An attempt succeeds (then the stable manifest is the
 * build's) or fails with a coded error leaving the previous release served; a failed one, rerun
 * without faults, completes the release.
 *
 * FAULT_PUBLISHES (default 20; nightly 200) publishes per server, FAULT_SEED to replay a run.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, onTestFailed, test } from 'vitest'
import { createS3Store } from '../../src/bucket/s3.js'
import { adminClient, createBucket, credsEnv, putObject, withEnv } from '../helpers/s3.js'
import { FAULT_KINDS, runSeed, startFaultProxy, type FaultProxy, type FaultRates } from './fault-proxy.js'
import { sri } from '../helpers/digest.js'
import { adminGetBytes, app, invariant, lockServer, newInvariantStats, PREFIX, publishApp, readRecord, readServed, removeApps } from './support.js'

const servers = inject('s3servers')
const N = Number(process.env.FAULT_PUBLISHES ?? 20)
const SEED = runSeed()
const RETENTION = { releases: 2, minAge: 0, grace: 0 }
/** 10% of the requests fail (errors and resets); 5% more are only slowed down. */
const RATES: FaultRates = { error500: 0.03, error503: 0.02, resetBefore: 0.025, resetAfter: 0.025, latency: 0.05 }

afterAll(removeApps)

describe.each(servers.map((s) => [s.name, s] as const))('publishing through injected faults on %s', (name, server) => {
  const admin = adminClient(server)
  const env = () => credsEnv(server)
  let proxy: FaultProxy
  let unlock: (() => void) | undefined
  const stats = { ...newInvariantStats(), attempted: 0, succeeded: 0, failed: 0, reruns: 0, pruneWarnings: 0, injected: 0 }
  const failures: string[] = []
  const check = invariant(admin, stats, SEED)
  const buckets = new Map<string, string>()

  beforeAll(async () => {
    unlock = await lockServer(server)
    proxy = await startFaultProxy(server.endpoint, { seed: SEED })
    // all buckets first: radosgw takes ~25 s for its first CreateBucket after a gateway restart (another fault file's)
    for (const label of ['fault-publish', 'fault-rerun', 'fault-switch', 'fault-get']) buckets.set(label, await createBucket(admin, label))
  }, 600_000)
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
    unlock?.()
  })

  const adminBytes = (bucket: string, key: string) => adminGetBytes(admin, bucket, key)
  const replay = () => onTestFailed(() => console.log(`[faults] publish-faults on ${name} failed; replay with FAULT_SEED=${SEED}`))

  test(`${N} publishes of a changing build with 10% injected errors and resets: each succeeds or fails coded, the served release always complete`, async () => {
    replay()
    const bucket = buckets.get('fault-publish')!
    const a = app()
    const injectedBefore = proxy.injected()
    let stable: Buffer | undefined
    try {
      proxy.setRates(RATES)
      for (let i = 1; i <= N; i++) {
        a.set(i)
        stats.attempted++
        const attempt = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
        const what = `publish ${i}/${N}`
        stable = await check(bucket, attempt, stable, what)
        if (attempt.ok) {
          stats.succeeded++
          // the one warning injected faults may cause: the prune after the publish failed
          expect(attempt.warnings.filter((c) => c !== 'PRUNE_FAILED'), `${what}: warnings`).toEqual([])
          if (attempt.warnings.includes('PRUNE_FAILED')) stats.pruneWarnings++
          continue
        }
        stats.failed++
        failures.push(`#${i} ${attempt.code} step ${attempt.step ?? '?'}: ${attempt.message!.replace(/ at http:\/\/127\.0\.0\.1:\d+/, '').slice(0, 140)}`)
        // the same build again, without faults, completes the release
        proxy.setRates({})
        stats.reruns++
        const rerun = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
        proxy.setRates(RATES)
        expect(rerun.ok, `${what}, rerun without faults: ${rerun.code} ${rerun.message}`).toBe(true)
        expect(rerun.warnings, `${what}, rerun without faults: warnings`).toEqual([])
        expect(rerun.manifest.release).toBe(attempt.manifest.release)
        stable = await check(bucket, rerun, stable, `${what} (rerun)`)
      }
    } finally {
      proxy.setRates({})
      const now = proxy.injected()
      const inj = FAULT_KINDS.map((k) => `${k} ${now[k] - injectedBefore[k]}`).join(', ')
      stats.injected = FAULT_KINDS.filter((k) => k !== 'latency').reduce((n, k) => n + now[k] - injectedBefore[k], 0)
      console.log(
        `[faults] publish-faults ${name} seed=${SEED}: publishes attempted=${stats.attempted} succeeded=${stats.succeeded} failed=${stats.failed} ` +
          `reruns=${stats.reruns} (all completed) pruneWarnings=${stats.pruneWarnings} injected faults=${stats.injected} (${inj}) ` +
          `files checked=${stats.filesChecked} lost=${stats.filesLost} mutable mismatched=${stats.filesMismatched}` +
          (failures.length ? `; failures: ${failures.join(' | ')}` : '') +
          (stats.violations.length ? `; violations: ${stats.violations.join(' | ')}` : ''),
      )
    }
    expect(stats.succeeded + stats.failed).toBe(N)
    expect(stats.filesLost, stats.violations.join('\n')).toBe(0)
    expect(stats.filesMismatched, stats.violations.join('\n')).toBe(0)
    // faults were really injected (10% of a few hundred requests)
    expect(stats.injected).toBeGreaterThan(0)
    // the last build is served
    expect(stable?.equals(a.localManifest())).toBe(true)
  }, 120_000 + N * 6_000)

  test('a publish whose uploads keep failing (500 on every PUT after the record) fails coded, the previous release served; rerun without faults completes it', async () => {
    replay()
    const bucket = buckets.get('fault-rerun')!
    const a = app()
    proxy.setRates({})
    a.set('first')
    const first = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
    expect(first.ok, `${first.code} ${first.message}`).toBe(true)
    expect(first.warnings).toEqual([])
    const before = (await check(bucket, first, undefined, 'first publish'))!

    a.set('second')
    let puts = 0
    proxy.override((r) => (r.method === 'PUT' && ++puts > 1 ? 'error500' : 'pass'))
    const failed = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION).finally(() => proxy.override(undefined))
    expect(failed.ok).toBe(false)
    expect(failed.code).toBe('PUBLISH_FAILED')
    expect(failed.message).toMatch(/^put of s3:\/\//)
    expect(failed.message).toContain('InternalError')
    expect(failed.message).toContain('still served')
    expect(failed.message).toContain('Run the same build again')
    // the PUT was tried maxAttempts (3) times
    expect(puts).toBeGreaterThanOrEqual(4)
    expect((await check(bucket, failed, before, 'failed publish'))!.equals(before)).toBe(true)
    // its record is there, pending: a prune keeps what it uploaded
    expect((await readRecord(admin, bucket, failed.manifest.release))?.state).toBe('pending')

    const rerun = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
    expect(rerun.ok, `${rerun.code} ${rerun.message}`).toBe(true)
    expect(rerun.warnings).toEqual([])
    expect(rerun.manifest.release).toBe(failed.manifest.release)
    expect((await check(bucket, rerun, before, 'rerun'))!.equals(failed.manifestBytes)).toBe(true)
    expect((await readRecord(admin, bucket, first.manifest.release))?.state).toBe('replaced')
  }, 120_000)

  // run.ts promises: "A failure stops before step 4: the previous release stays fully served". The
  // mutable files (index.html, public files under their own name) are overwritten in step 3, before
  // the switch, so a publish that fails at its switch leaves the previous manifest served with the
  // new release's index.html and logo.png.
  test("a publish that fails at its switch (500 on every PUT of the stable manifest) leaves the previous release's mutable files as they were", async () => {
    replay()
    const bucket = buckets.get('fault-switch')!
    const a = app()
    proxy.setRates({})
    a.set('A')
    const first = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
    expect(first.ok, `${first.code} ${first.message}`).toBe(true)
    expect(first.warnings).toEqual([])
    const before = (await check(bucket, first, undefined, 'release A'))!
    const mutable = Object.keys(first.manifest.files).filter((p) => !first.manifest.files[p].immutable).sort()
    expect(mutable).toEqual(expect.arrayContaining(['img/logo.png', 'index.html']))

    a.set('B')
    proxy.override((r) => (r.method === 'PUT' && r.key === `${PREFIX}cdn-manifest.json` ? 'error500' : 'pass'))
    const failed = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION).finally(() => proxy.override(undefined))
    expect(failed.ok).toBe(false)
    expect(failed.code).toBe('PUBLISH_FAILED')
    expect(failed.step).toBe(4)
    expect(failed.message).toContain(`release ${first.manifest.release} is still served`)
    const served = (await readServed(admin, bucket))!
    expect(served.bytes.equals(before)).toBe(true)
    // the release A the stable manifest names: its mutable files must still have A's bytes
    for (const p of mutable) {
      const now = await adminBytes(bucket, PREFIX + p)
      const holds = now === undefined ? 'missing' : sri(now) === first.manifest.files[p].integrity ? 'A' : sri(now) === failed.manifest.files[p].integrity ? 'B' : 'other'
      expect.soft(holds, `${PREFIX}${p} while the stable manifest names release A`).toBe('A')
    }

    const rerun = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
    expect(rerun.ok, `${rerun.code} ${rerun.message}`).toBe(true)
    expect(rerun.warnings).toEqual([])
    expect((await check(bucket, rerun, before, 'rerun'))!.equals(failed.manifestBytes)).toBe(true)
  })

  // A reset while the body of a GetObject answer comes in is a network error like any other, and
  // `maxAttempts` (s3.ts: "throttling, 5xx and network errors are retried") promises a retry. The
  // SDK hands the body over as a stream after its retry step, so getBytes must retry it itself.
  test('a connection reset in the middle of a GetObject body is retried like any other network error', async () => {
    replay()
    const bucket = buckets.get('fault-get')!
    const key = `${PREFIX}.cdn-publish/releases/0123456789abcdef.json`
    const body = Buffer.from(JSON.stringify({ padding: randomBytes(4096).toString('hex') }))
    await putObject(admin, bucket, key, body, 'application/json')
    let gets = 0
    proxy.override((r) => (r.method === 'GET' && r.key === key ? (++gets === 1 ? 'resetAfter' : 'pass') : undefined))
    try {
      const store = createS3Store({ bucket, endpoint: proxy.endpoint, region: server.region, forcePathStyle: true })
      const got = await withEnv(env(), () => store.getBytes(key)).catch((e: unknown) => e as Error)
      expect(got instanceof Uint8Array ? 'bytes' : `${(got as { code?: string }).code}: ${(got as Error).message}`).toBe('bytes')
      expect(Buffer.from(got as Uint8Array).equals(body)).toBe(true)
      expect(gets).toBe(2)
    } finally {
      proxy.override(undefined)
    }
  })
})
