/**
 * Retention in action: real `vite build`s of the fixture app publish release after release to
 * both S3 test servers, and the prune after each publish (or run on its own, at the same time as
 * a publish) deletes exactly what the policy no longer keeps. What is left is read back with the
 * test's own client.
 *
 * Concurrency is made deterministic with loopback proxies that hold one chosen request until the
 * test lets it go: no sleeps.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest, CdnPublishOptions, PublishOptions, ReleaseRecord, RetentionOptions } from '../src/index.js'
import { createS3Store } from '../src/bucket/s3.js'
import { runRollback } from '../src/rollback.js'
import { resolveRetention } from '../src/options/retention.js'
import { runPrune } from '../src/retention/prune.js'
import type { PruneSection } from '../src/deploy/index.js'
import { captureLogs, codes, fixtureCopies, viteBuild, type BuildResult } from './helpers/build.js'
import { recordKey as recordKeyOf, snapshotKey } from './helpers/keys.js'
import { adminClient, createBucket, credsEnv, listAll, objectExists, putObject, readObject, startCountingProxy, withEnv, type CountingProxy } from './helpers/s3.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const PREFIX = 'site/'
const AGGRESSIVE: RetentionOptions = { releases: 1, minAge: 0, grace: 0 }
const recordKey = (release: string) => recordKeyOf(PREFIX, release)

interface Release {
  result: BuildResult
  manifest: CdnManifest
  logs: string
  prune?: PruneSection
}

const app = () => fx.app()

/** Every key a release needs: its files, its snapshots (mutable files and manifest) and its record. */
function keysOf(r: Release): string[] {
  const m = r.manifest
  const keys = Object.keys(m.files).map((p) => PREFIX + p)
  for (const p of Object.keys(m.files)) if (!m.files[p].immutable) keys.push(snapshotKey(PREFIX, r.result.files.get(p)!))
  keys.push(snapshotKey(PREFIX, r.result.files.get('cdn-manifest.json')!))
  keys.push(recordKey(m.release))
  return keys
}

describe.each(servers.map((s) => [s.name, s] as const))('retention on %s', (_name, server) => {
  const admin = adminClient(server)
  const env = () => credsEnv(server)
  let proxy: CountingProxy
  beforeAll(async () => {
    proxy = await startCountingProxy(server.endpoint)
  })
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
  })

  const publishOptions = (bucket: string, extra: PublishOptions = {}): PublishOptions => ({ bucket, prefix: PREFIX, endpoint: proxy.endpoint, forcePathStyle: true, ...extra })

  /** Build and publish; `extra.warnings`: the codes of every warning the build must report (none unless said). */
  async function publish(
    root: string,
    bucket: string,
    retention: RetentionOptions | false | undefined,
    extra: { publish?: PublishOptions; endpoint?: string; warnings?: string[] } = {},
  ): Promise<Release> {
    const logs = captureLogs()
    const options: CdnPublishOptions = { publish: publishOptions(bucket, { ...(extra.endpoint ? { endpoint: extra.endpoint } : {}), ...extra.publish }) }
    if (retention !== undefined) options.retention = retention
    const result = await withEnv(env(), () => viteBuild('vite8', root, options, { customLogger: logs.logger }))
    expect(codes(result), 'the warnings of the build').toEqual(extra.warnings ?? [])
    const report = result.report<{ prune?: PruneSection }>()
    return { result, manifest: result.manifest!, logs: logs.text(), ...(report.prune ? { prune: report.prune } : {}) }
  }

  const store = (bucket: string, endpoint = server.endpoint) => createS3Store({ bucket, endpoint, region: server.region, forcePathStyle: true })

  test('five releases with releases 2, minAge 0, grace 0 leave exactly the files of the last two', async () => {
    const bucket = await createBucket(admin, 'five')
    const a = app()
    const releases: Release[] = []
    for (let n = 1; n <= 5; n++) {
      a.set({ logo: `v${n}`, lazy: `v${n}` })
      releases.push(await publish(a.root, bucket, { releases: 2, minAge: 0, grace: 0 }))
    }
    const keys = (await listAll(admin, bucket, PREFIX)).map((o) => o.key).sort()
    const expected = new Set([...keysOf(releases[3]), ...keysOf(releases[4]), `${PREFIX}cdn-manifest.json`])
    expect(keys).toEqual([...expected].sort())
    // every prune said what it kept and deleted; from the third publish on, one release goes each time
    expect(releases[0].prune).toMatchObject({ ok: true, releases: { deleted: [] } })
    for (const n of [2, 3, 4]) {
      expect(releases[n].prune?.releases.deleted).toEqual([releases[n - 2].manifest.release])
      expect(releases[n].logs).toMatch(/releases kept 2, deleted 1; \d+ object\(s\) deleted, [\d.]+ k?B freed$/m)
    }
    const stable = await readObject(admin, bucket, `${PREFIX}cdn-manifest.json`)
    expect(stable.bytes.equals(releases[4].result.files.get('cdn-manifest.json')!)).toBe(true)
  })

  test('an object outside the prefix and an orphan inside it survive the default orphans: keep; orphans: delete takes only the orphan', async () => {
    const bucket = await createBucket(admin, 'orphans')
    await putObject(admin, bucket, 'other/keep.txt', 'another site')
    await putObject(admin, bucket, 'site.txt', 'next to the prefix')
    await putObject(admin, bucket, `${PREFIX}legacy/old.js`, 'from before the plugin')
    const a = app()
    a.set({ logo: 'one' })
    const first = await publish(a.root, bucket, AGGRESSIVE)
    a.set({ logo: 'two' })
    await publish(a.root, bucket, AGGRESSIVE)
    a.set({ logo: 'three' })
    await publish(a.root, bucket, AGGRESSIVE)
    for (const key of ['other/keep.txt', 'site.txt', `${PREFIX}legacy/old.js`]) expect(await objectExists(admin, bucket, key), key).toBe(true)
    // the first release's own fingerprinted logo is gone
    const logo1 = Object.keys(first.manifest.files).find((p) => /^img\/logo-[\w-]{8}\.png$/.test(p))!
    expect(await objectExists(admin, bucket, PREFIX + logo1)).toBe(false)

    a.set({ logo: 'four' })
    const fourth = await publish(a.root, bucket, { ...AGGRESSIVE, orphans: 'delete' })
    expect(fourth.prune?.deleted).toContain(`${PREFIX}legacy/old.js`)
    expect(await objectExists(admin, bucket, `${PREFIX}legacy/old.js`)).toBe(false)
    expect(await objectExists(admin, bucket, 'other/keep.txt')).toBe(true)
    expect(await objectExists(admin, bucket, 'site.txt')).toBe(true)
  })

  test('a dry run of publish and prune prints each decision with its reason and writes nothing', async () => {
    const bucket = await createBucket(admin, 'dry')
    const a = app()
    a.set({ logo: 'one' })
    const r1 = await publish(a.root, bucket, false)
    a.set({ logo: 'two' })
    const r2 = await publish(a.root, bucket, false)
    const before = await listAll(admin, bucket)
    a.set({ logo: 'three' })
    proxy.reset()
    const dry = await publish(a.root, bucket, AGGRESSIVE, { publish: { dryRun: true } })
    expect(await listAll(admin, bucket)).toEqual(before)
    expect(proxy.count('PUT') + proxy.count('POST') + proxy.count('DELETE')).toBe(0)
    // planned as if the new release had become current: both earlier ones go
    expect(dry.logs).toMatch(new RegExp(`delete +release ${r1.manifest.release} \\(not among the 1 most recent releases; published [^;]+; replaced [^)]+\\)`))
    expect(dry.logs).toMatch(new RegExp(`delete +release ${r2.manifest.release} \\(`))
    const logo1 = Object.keys(r1.manifest.files).find((p) => /^img\/logo-[\w-]{8}\.png$/.test(p))!
    expect(dry.logs).toMatch(new RegExp(`delete +${PREFIX}${logo1.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\([^)]*named only by releases that are deleted\\)`))
    expect(dry.logs).toMatch(/keep +\d+ object\(s\): named by a kept release/)
    expect(dry.prune).toMatchObject({ dryRun: true, releases: { deleted: [r1.manifest.release, r2.manifest.release].sort() } })
    expect(dry.prune?.deleted).toContain(PREFIX + logo1)
    expect(dry.logs).toMatch(/would be deleted/)
  })

  test('a prune that cannot delete warns PRUNE_FAILED, the build succeeds, nothing is lost, and the next prune finishes', async () => {
    const bucket = await createBucket(admin, 'prunefail')
    const a = app()
    a.set({ logo: 'one' })
    const r1 = await publish(a.root, bucket, false)
    a.set({ logo: 'two' })
    proxy.failWhen((r) => r.method === 'POST')
    let r2: Release
    try {
      r2 = await publish(a.root, bucket, AGGRESSIVE, { warnings: ['PRUNE_FAILED'] })
    } finally {
      proxy.failWhen(undefined)
    }
    expect(r2.prune?.ok).toBe(false)
    for (const k of keysOf(r1)) expect(await objectExists(admin, bucket, k), k).toBe(true)
    // the same build again: nothing to publish, and the prune now goes through
    const again = await publish(a.root, bucket, AGGRESSIVE)
    expect(again.prune?.releases.deleted).toEqual([r1.manifest.release])
    expect(await objectExists(admin, bucket, recordKey(r1.manifest.release))).toBe(false)
    for (const k of keysOf(r2)) expect(await objectExists(admin, bucket, k), k).toBe(true)
  })

  test('a prune while a publish is between its record and its switch keeps every file of the publishing release', async () => {
    const bucket = await createBucket(admin, 'concurrent')
    const a = app()
    a.set({ logo: 'one', lazy: 'one' })
    const r1 = await publish(a.root, bucket, false)

    // the publish of release 2 stops just before its switch (the stable manifest's PUT)
    const publishing = await startCountingProxy(server.endpoint)
    try {
      const gate = publishing.hold((r) => r.method === 'PUT' && r.key === `${PREFIX}cdn-manifest.json`)
      a.set({ logo: 'two', lazy: 'two' })
      const p2 = publish(a.root, bucket, false, { endpoint: publishing.endpoint })
      await gate.arrived
      const r = await withEnv(env(), () => runPrune({ store: store(bucket), prefix: PREFIX, manifest: 'cdn-manifest.json', retention: resolveRetention(AGGRESSIVE) as never }))
      expect(r.releases.kept.sort()).toEqual(expect.arrayContaining([r1.manifest.release]))
      gate.release()
      const r2 = await p2
      expect(r.releases.kept).toContain(r2.manifest.release)
      expect(r.deleted).toEqual([])
      for (const k of keysOf(r2)) expect(await objectExists(admin, bucket, k), k).toBe(true)
    } finally {
      await publishing.close()
    }
  })

  test('a publish that reuses a file a running prune is deleting uploads it again before its switch', async () => {
    const bucket = await createBucket(admin, 'race')
    const a = app()
    a.set({ logo: 'A', lazy: 'one' })
    const rA = await publish(a.root, bucket, false)
    a.set({ logo: 'B', lazy: 'two' })
    await publish(a.root, bucket, false)
    // logo A is named only by release A, which the policy no longer keeps
    const logoA = Object.keys(rA.manifest.files).find((p) => /^img\/logo-[\w-]{8}\.png$/.test(p))!

    const pruning = await startCountingProxy(server.endpoint)
    const publishing = await startCountingProxy(server.endpoint)
    try {
      // the prune has planned and checked the records; its DeleteObjects is held
      const deleting = pruning.hold((r) => r.method === 'POST')
      const pruned = withEnv(env(), () =>
        runPrune({ store: store(bucket, pruning.endpoint), prefix: PREFIX, manifest: 'cdn-manifest.json', retention: resolveRetention(AGGRESSIVE) as never }),
      )
      await deleting.arrived
      // release C brings logo A back; it lists, writes its record and uploads; its check before the switch is held
      let listings = 0
      const checking = publishing.hold((r) => r.method === 'GET' && r.key === '' && ++listings === 2)
      a.set({ logo: 'A', lazy: 'three' })
      const pC = publish(a.root, bucket, false, { endpoint: publishing.endpoint, warnings: ['REUPLOADED'] })
      await checking.arrived
      deleting.release()
      const p = await pruned
      expect(p.deleted).toContain(PREFIX + logoA)
      checking.release()
      const rC = await pC
      expect(rC.manifest.files[logoA]).toBeDefined()
      expect(rC.result.warnings[0].message).toMatch(/reuses were deleted meanwhile .*uploading them again: .*site\/img\/logo-/)
      for (const k of keysOf(rC)) expect(await objectExists(admin, bucket, k), k).toBe(true)
      const back = await readObject(admin, bucket, PREFIX + logoA)
      expect(back.bytes.equals(rC.result.files.get(logoA)!)).toBe(true)
    } finally {
      await pruning.close()
      await publishing.close()
    }
  })

  test('rollback restores the release’s manifest and mutable files with their headers; a missing file refuses it', async () => {
    const bucket = await createBucket(admin, 'rollback')
    const a = app()
    a.set({ logo: 'one' })
    const r1 = await publish(a.root, bucket, false, { publish: { headers: [{ match: 'index.html', headers: { 'Cache-Control': 'public, max-age=60' } }] } })
    a.set({ logo: 'two' })
    const r2 = await publish(a.root, bucket, false)
    const s = store(bucket)
    const done = await withEnv(env(), () => runRollback({ store: s, prefix: PREFIX, manifest: 'cdn-manifest.json', release: r1.manifest.release.slice(0, 8) }))
    expect(done.release).toBe(r1.manifest.release)
    expect(done.restored).toEqual(['img/logo.png', 'index.html', 'cdn-manifest.json'])
    expect(done.unchanged).toEqual(['fonts/fixture.woff2', 'img/hero.png', 'robots.txt'])
    const html = await readObject(admin, bucket, `${PREFIX}index.html`)
    expect(html.bytes.equals(r1.result.files.get('index.html')!)).toBe(true)
    expect(html.cacheControl).toBe('public, max-age=60')
    expect(html.contentType).toBe('text/html; charset=utf-8')
    const stable = await readObject(admin, bucket, `${PREFIX}cdn-manifest.json`)
    expect(stable.bytes.equals(r1.result.files.get('cdn-manifest.json')!)).toBe(true)
    expect(stable.cacheControl).toBe('no-cache')
    for (const p of Object.keys(r1.manifest.files)) expect(await objectExists(admin, bucket, PREFIX + p), p).toBe(true)
    const rec1 = JSON.parse((await readObject(admin, bucket, recordKey(r1.manifest.release))).bytes.toString()) as ReleaseRecord
    const rec2 = JSON.parse((await readObject(admin, bucket, recordKey(r2.manifest.release))).bytes.toString()) as ReleaseRecord
    expect(rec1.state).toBe('current')
    expect(rec2.state).toBe('replaced')
    expect(Date.parse(rec2.replacedAt!)).toBeGreaterThanOrEqual(Date.parse(rec2.publishedAt!))

    // release 2's own logo is removed by hand: rolling forward to it is refused, nothing written
    const logo2 = Object.keys(r2.manifest.files).find((p) => /^img\/logo-[\w-]{8}\.png$/.test(p))!
    await withEnv(env(), () => s.deleteMany([PREFIX + logo2]))
    const before = await listAll(admin, bucket)
    const refused = await withEnv(env(), () => runRollback({ store: s, prefix: PREFIX, manifest: 'cdn-manifest.json', release: r2.manifest.release })).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'ROLLBACK_REFUSED' })
    expect((refused as Error).message).toContain(`${PREFIX}${logo2}`)
    expect((refused as Error).message).toContain('Nothing was written')
    expect(await listAll(admin, bucket)).toEqual(before)
  })
})
