/**
 * A prune interrupted mid-way. Five releases of a changing build are published (no pruning), then
 * `runPrune` (releases 2, minAge 0, grace 0: releases 1 to 3 go) deletes in batches of 2 keys
 * through the fault proxy, and is interrupted: the 2nd DeleteObjects (and its retries) reset
 * before reaching the server, the 2nd reset after the server carried it out, the server restarted
 * between two batches, or seeded random errors and resets on every request. Whatever happened,
 * every key of every kept release's record still exists (read directly from the server), the
 * served release is complete, and a second prune finishes: the bucket then holds exactly what an
 * uninterrupted prune of the same history leaves.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, onTestFailed, test } from 'vitest'
import { CdnPublishError } from '../../src/errors.js'
import { releaseKeys } from '../../src/bucket/record.js'
import { createS3Store } from '../../src/bucket/s3.js'
import { resolveRetention } from '../../src/options/retention.js'
import { type ResolvedRetention } from '../../src/options/types.js'
import { runPrune, type PruneReport } from '../../src/retention/prune.js'
import { restartFront, type S3ServerInfo } from '../servers/index.js'
import { adminClient, createBucket, credsEnv, listAll, withEnv } from '../helpers/s3.js'
import { runSeed, startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { app, CODES, lockServer, MANIFEST, PREFIX, publishApp, readRecord, readServed, recordKey, removeApps, type App } from './support.js'

const servers = inject('s3servers')
const SEED = runSeed()
const RETENTION = resolveRetention({ releases: 2, minAge: 0, grace: 0 }) as ResolvedRetention
const RELEASES = 5
const LABELS = ['fault-prune-control', 'fault-prune-reset', 'fault-prune-after', 'fault-prune-restart', 'fault-prune-kill', 'fault-prune-random', 'fault-prune-many']

afterAll(removeApps)

type Outcome = { report: PruneReport; error?: undefined } | { report?: undefined; error: CdnPublishError }

describe.each(servers.map((s) => [s.name, s] as const))('an interrupted prune on %s', (name, server: S3ServerInfo) => {
  const admin: S3Client = adminClient(server)
  const env = () => credsEnv(server)
  let proxy: FaultProxy
  let unlock: (() => void) | undefined
  let a: App
  /** Release ids of the history, oldest first. */
  let releases: string[] = []
  /** Keys an uninterrupted prune of the history leaves. */
  let expectedFinal: string[] = []
  const summary: string[] = []

  /** Fresh buckets, all made before any restart (radosgw takes ~25 s for a CreateBucket right after a gateway restart). */
  const buckets = new Map<string, string>()
  let control: PruneReport

  /** Publish the history (the same builds every time, so the same releases and keys) into a fresh bucket. */
  async function history(label: string): Promise<string> {
    const bucket = buckets.get(label)!
    const ids: string[] = []
    for (let n = 1; n <= RELEASES; n++) {
      a.set(`prune ${n}`)
      const p = await publishApp(env(), a, bucket, server.endpoint, false)
      expect(p.ok, `${p.code} ${p.message}`).toBe(true)
      expect(p.warnings, 'the warnings of the build').toEqual([])
      ids.push(p.manifest.release)
    }
    if (releases.length) expect(ids).toEqual(releases)
    releases = ids
    return bucket
  }

  const prune = (bucket: string, endpoint: string): Promise<Outcome> =>
    withEnv(env(), () =>
      runPrune({
        store: createS3Store({ bucket, endpoint, region: server.region, forcePathStyle: true }),
        prefix: PREFIX,
        manifest: MANIFEST,
        retention: RETENTION,
        batchSize: 2,
      }),
    ).then(
      (report) => ({ report }),
      (error: unknown) => {
        if (!(error instanceof CdnPublishError)) throw error
        return { error }
      },
    )

  const keys = async (bucket: string) => (await listAll(admin, bucket, PREFIX)).map((o) => o.key).sort()

  /** Every key of every kept release's record exists, and the served release is complete. */
  async function expectKeptComplete(bucket: string, what: string) {
    const present = new Set(await keys(bucket))
    for (const id of releases.slice(-2)) {
      const record = await readRecord(admin, bucket, id)
      expect(record, `${what}: record of kept release ${id}`).toBeDefined()
      const missing = [...releaseKeys(record!, PREFIX), recordKey(id)].filter((k) => !present.has(k))
      expect(missing, `${what}: keys of kept release ${id} (seed ${SEED})`).toEqual([])
    }
    const served = await readServed(admin, bucket)
    expect(served?.manifest.release).toBe(releases.at(-1))
    expect([...served!.missing, ...served!.corrupt, ...served!.mismatched], `${what}: served release`).toEqual([])
  }

  beforeAll(async () => {
    unlock = await lockServer(server)
    proxy = await startFaultProxy(server.endpoint, { seed: SEED })
    a = app()
    for (const label of LABELS) buckets.set(label, await createBucket(admin, label))
    // the control: the same history, pruned without faults
    const controlBucket = await history('fault-prune-control')
    const clean = await prune(controlBucket, server.endpoint)
    expect(clean.error).toBeUndefined()
    expect(clean.report!.failed).toEqual([])
    control = clean.report!
    // several batches of 2
    expect(clean.report!.deleted.length).toBeGreaterThan(4)
    expectedFinal = await keys(controlBucket)
    await expectKeptComplete(controlBucket, 'control')
    for (const id of releases.slice(0, 3)) expect(await readRecord(admin, controlBucket, id), `control: record of pruned release ${id}`).toBeUndefined()
  }, 600_000)
  afterAll(async () => {
    console.log(`[faults] prune-interrupted ${name} seed=${SEED}: ${summary.join('; ')}`)
    await proxy?.close()
    admin.destroy()
    unlock?.()
  })

  /** After the interrupted prune: nothing kept is touched, and a second prune (no faults) finishes the job. */
  async function finish(bucket: string, first: Outcome, what: string) {
    if (first.error) expect(CODES.has(first.error.code), `${what}: coded, got ${first.error.code}`).toBe(true)
    await expectKeptComplete(bucket, `${what}, after the interrupted prune`)
    const second = await prune(bucket, proxy.endpoint)
    expect(second.error, `${what}: second prune: ${second.error?.message}`).toBeUndefined()
    expect(second.report!.failed).toEqual([])
    expect(second.report!.refused).toBeUndefined()
    await expectKeptComplete(bucket, `${what}, after the second prune`)
    expect(await keys(bucket)).toEqual(expectedFinal)
    for (const id of releases.slice(0, 3)) expect(await readRecord(admin, bucket, id), `record of pruned release ${id}`).toBeUndefined()
    const r = first.report
    summary.push(
      `${what}: interrupted prune ${r ? `deleted ${r.deleted.length}, failed ${r.failed.length}` : `threw ${first.error!.code}`}, second prune deleted ${second.report!.deleted.length}`,
    )
    return second.report!
  }

  // runPrune checks before every batch that the release records are as planned, and re-plans
  // (at most MAX_PLANS = 5 times) when they are not. Its own deletions of the records of deleted
  // releases (the last group of the plan) count as such a change.
  test('an uninterrupted prune in batches of 2 plans once and reports every release it deleted', () => {
    expect(control.releases.deleted.sort(), `plans ${control.plans}`).toEqual(releases.slice(0, 3).sort())
    expect(control.plans).toBe(1)
  })

  test('an uninterrupted prune whose record deletions span more than 5 batches finishes', async () => {
    const bucket = buckets.get('fault-prune-many')!
    const ids: string[] = []
    for (let n = 1; n <= 12; n++) {
      a.set(`many ${n}`)
      const p = await publishApp(env(), a, bucket, server.endpoint, false)
      expect(p.ok, `${p.code} ${p.message}`).toBe(true)
      expect(p.warnings, 'the warnings of the build').toEqual([])
      ids.push(p.manifest.release)
    }
    const r = await withEnv(env(), () =>
      runPrune({
        store: createS3Store({ bucket, endpoint: server.endpoint, region: server.region, forcePathStyle: true }),
        prefix: PREFIX,
        manifest: MANIFEST,
        retention: resolveRetention({ releases: 1, minAge: 0, grace: 0 }) as ResolvedRetention,
        batchSize: 2,
      }),
    ).catch((e: unknown) => e as CdnPublishError)
    expect(r instanceof CdnPublishError ? `${r.code}: ${r.message}` : 'finished').toBe('finished')
    const left = (await keys(bucket)).filter((k) => k.includes('.cdn-publish/releases/'))
    expect(left).toEqual([recordKey(ids.at(-1)!)])
  })

  test('the 2nd DeleteObjects and its retries reset before reaching the server: the prune stops, records last, and the next one finishes', async () => {
    onTestFailed(() => console.log(`[faults] prune-interrupted on ${name} failed; FAULT_SEED=${SEED}`))
    const bucket = await history('fault-prune-reset')
    let posts = 0
    proxy.override((r) => (r.method === 'POST' ? (++posts >= 2 ? 'resetBefore' : 'pass') : undefined))
    const first = await prune(bucket, proxy.endpoint).finally(() => proxy.override(undefined))
    expect(first.error).toBeUndefined()
    // the first batch went through, the second failed after its retries, nothing after it was tried
    expect(first.report!.deleted).toHaveLength(2)
    expect(first.report!.failed.length).toBeGreaterThan(0)
    expect(posts).toBe(1 + 3)
    for (const f of first.report!.failed) expect(CODES.has(f.code), f.code).toBe(true)
    // the records of the releases being pruned go last: all still there
    const present = new Set(await keys(bucket))
    for (const id of releases.slice(0, 3)) expect(present.has(recordKey(id)), `record of ${id}`).toBe(true)
    await finish(bucket, first, 'reset before forwarding')
  })

  test('the 2nd DeleteObjects reset after the server carried it out: the retry deletes again and the prune completes', async () => {
    const bucket = await history('fault-prune-after')
    let posts = 0
    proxy.override((r) => (r.method === 'POST' ? (++posts === 2 ? 'resetAfter' : 'pass') : undefined))
    const first = await prune(bucket, proxy.endpoint).finally(() => proxy.override(undefined))
    expect(first.error).toBeUndefined()
    expect(first.report!.failed).toEqual([])
    expect(proxy.requests().some((r) => r.method === 'POST' && r.fault === 'resetAfter')).toBe(true)
    const second = await finish(bucket, first, 'reset after forwarding')
    expect(second.deleted).toEqual([])
  })

  test('the server front process restarted between two delete batches: the prune goes on against the restarted server', async () => {
    const bucket = await history('fault-prune-restart')
    proxy.clearLog()
    let posts = 0
    let restarted: Promise<void> | undefined
    // hold the request after the 1st DeleteObjects (the record check before batch 2) until the server is back
    proxy.gate((r) => {
      if (r.method === 'POST') posts++
      if (posts === 1 && r.method === 'GET' && !restarted) return (restarted = restartFront(server))
      return undefined
    })
    const first = await prune(bucket, proxy.endpoint).finally(() => proxy.gate(undefined))
    expect(restarted, 'restart between batches').toBeDefined()
    await restarted
    expect(first.error, first.error?.message).toBeUndefined()
    expect(first.report!.failed).toEqual([])
    await finish(bucket, first, 'restart between batches')
  })

  test('the server front process restarted as the 2nd DeleteObjects arrives: whether the prune fails or finishes, nothing kept is touched', async () => {
    const bucket = await history('fault-prune-kill')
    let posts = 0
    let restarted: Promise<void> | undefined
    proxy.gate((r) => {
      if (r.method === 'POST' && ++posts === 2) restarted = restartFront(server)
      return undefined
    })
    const first = await prune(bucket, proxy.endpoint).finally(() => proxy.gate(undefined))
    expect(restarted).toBeDefined()
    await restarted
    await finish(bucket, first, 'restart during a batch')
  })

  test('seeded random errors and resets on 30% of the requests: every prune attempt leaves the kept releases complete, one finishes', async () => {
    onTestFailed(() => console.log(`[faults] prune-interrupted on ${name} failed; FAULT_SEED=${SEED}`))
    const bucket = await history('fault-prune-random')
    const injected = proxy.failuresInjected()
    proxy.setRates({ error500: 0.1, error503: 0.05, resetBefore: 0.075, resetAfter: 0.075 })
    let attempts = 0
    let last: Outcome | undefined
    try {
      for (; attempts < 20; attempts++) {
        last = await prune(bucket, proxy.endpoint)
        if (last.error) expect(CODES.has(last.error.code), last.error.code).toBe(true)
        await expectKeptComplete(bucket, `random faults, attempt ${attempts + 1}`)
        if (last.report && last.report.failed.length === 0) break
      }
    } finally {
      proxy.setRates({})
    }
    expect(last?.report?.failed, 'a prune finished within 20 attempts').toEqual([])
    expect(proxy.failuresInjected()).toBeGreaterThan(injected)
    await finish(bucket, last!, `random faults (${attempts + 1} prune attempts, ${proxy.failuresInjected() - injected} faults; last attempt)`)
  })
})
