/**
 * Bad input, bucket state: what is already in the bucket is damaged or foreign. Corrupt release
 * records, a record that names another release than its file name, timestamps in the future,
 * and a stable manifest that is not JSON or not this plugin's. Real Vite builds publish to both
 * S3 test servers; `runPrune` (the code behind the plugin's prune and `cdn-publish prune`) is
 * also run on its own.
 *
 * Each bucket first holds two complete releases, A (replaced) and B (current). The retention
 * used afterwards keeps only the current release (releases 1, minAge 0, grace 0), so without the
 * damage a prune would delete A and, once C is published, B. With the damage it must refuse (and
 * say which object), or, where the damage does not make the bucket unsafe, keep every file that a
 * kept release names.
 */
import { appendFileSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, inject, test } from 'vitest'
import { createS3Store } from '../../src/bucket/s3.js'
import type { ReleaseRecord } from '../../src/bucket/record.js'
import type { PublishReport } from '../../src/publish/report.js'
import { resolveRetention } from '../../src/options/retention.js'
import { type ResolvedRetention } from '../../src/options/types.js'
import { runPrune } from '../../src/retention/prune.js'
import type { PruneSection } from '../../src/deploy/index.js'
import { adminClient, createBucket, credsEnv, listAll, objectExists, putObject, readObject, withEnv } from '../helpers/s3.js'
import { fixtureCopies, type BuildResult } from '../helpers/build.js'
import { sri } from '../helpers/digest.js'
import { recordKey } from '../helpers/keys.js'
import { bucketState, coded, expectCurrent, expectOk, releaseKeys, storedRecord, tryBuild } from './helpers.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const PREFIX = 'site/'
const AGGRESSIVE = { releases: 1, minAge: 0, grace: 0 } as const
const RECORDS = `${PREFIX}.cdn-publish/releases/`

type Report = PublishReport & { prune?: PruneSection }

describe.each(servers.map((s) => [s.name, s] as const))('damaged bucket state on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())
  const env = () => credsEnv(server)
  const target = (bucket: string) => ({ bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true })
  const store = (bucket: string) => createS3Store({ bucket, endpoint: server.endpoint, region: server.region, forcePathStyle: true })
  const prune = (bucket: string) =>
    withEnv(env(), () => runPrune({ store: store(bucket), prefix: PREFIX, manifest: 'cdn-manifest.json', retention: resolveRetention(AGGRESSIVE) as ResolvedRetention }))

  /** A fresh bucket with release A (replaced) and B (current); the app changed to build release C next. */
  async function twoReleases(label: string) {
    const bucket = await createBucket(admin, label)
    const root = fx.copy()
    const publish = () => withEnv(env(), () => tryBuild('vite8', root, { publish: target(bucket), retention: false }))
    const a = expectOk(await publish())
    appendFileSync(path.join(root, 'public/img/logo.png'), Buffer.from('release B'))
    const b = expectOk(await publish())
    await expectCurrent(admin, bucket, PREFIX, b)
    appendFileSync(path.join(root, 'public/img/logo.png'), Buffer.from('release C'))
    const keys = [...(await releaseKeys(admin, bucket, PREFIX, a)), ...(await releaseKeys(admin, bucket, PREFIX, b))]
    return { bucket, root, a, b, keys }
  }

  async function publishC(s: { bucket: string; root: string }) {
    const o = await withEnv(env(), () => tryBuild('vite8', s.root, { publish: target(s.bucket), retention: AGGRESSIVE }))
    return o
  }

  async function expectAllThere(bucket: string, keys: string[]) {
    const listed = new Set((await listAll(admin, bucket)).map((o) => o.key))
    for (const k of keys) expect(listed.has(k), `${k} still in the bucket`).toBe(true)
  }

  const RECORD_DAMAGE: [string, string, (a: BuildResult, aRecord: Buffer) => Buffer | string, RegExp][] = [
    ['garbage JSON', 'deadbeefdeadbeef', () => '{"version": 1, "release": "deadbeefdeadbeef", garbage', /could not be read/],
    ['a zero-byte object', '00000000deadbeef', () => '', /could not be read/],
    ['JSON that is not a record', 'feedfacefeedface', () => '{"version":2,"hello":"world"}', /could not be read/],
    ['a record naming another release than its file name (a copy of A’s record)', '0123456789abcdef', (_a, rec) => rec, /could not be read/],
  ]

  test.each(RECORD_DAMAGE)('a release record that is %s: PRUNE_REFUSED naming its key; nothing deleted; the publish itself goes through', async (_what, id, body, why) => {
    const s = await twoReleases('badrecord')
    const key = `${RECORDS}${id}.json`
    const aRecord = (await readObject(admin, s.bucket, recordKey(PREFIX, s.a.manifest!.release))).bytes
    await putObject(admin, s.bucket, key, body(s.a, aRecord), 'application/json')

    const o = await publishC(s)
    const c = expectOk(o, ['PRUNE_REFUSED'])
    await expectCurrent(admin, s.bucket, PREFIX, c)
    const refused = coded(c, 'PRUNE_REFUSED')
    expect(refused[0].message).toContain(key)
    expect(refused[0].message).toMatch(why)
    const report = c.report<Report>()
    expect(report.prune).toMatchObject({ ok: false, deleted: [], refused: expect.stringContaining(key) })
    await expectAllThere(s.bucket, [...s.keys, key])

    // the prune on its own says the same and deletes nothing
    const before = await bucketState(admin, s.bucket)
    const r = await prune(s.bucket)
    expect(r.refused).toContain(key)
    expect(r.deleted).toEqual([])
    expect(await bucketState(admin, s.bucket)).toEqual(before)
  })

  test('a record with a timestamp that is not a date: the prune refuses, naming the release; nothing deleted', async () => {
    const s = await twoReleases('baddate')
    const rec = await storedRecord(admin, s.bucket, PREFIX, s.a.manifest!.release)
    await putObject(admin, s.bucket, recordKey(PREFIX, rec.release), JSON.stringify({ ...rec, createdAt: 'yesterday-ish' }), 'application/json')
    const before = await bucketState(admin, s.bucket)
    const r = await prune(s.bucket)
    expect(r.refused).toContain(rec.release)
    expect(r.refused).toMatch(/invalid timestamp/)
    expect(await bucketState(admin, s.bucket)).toEqual(before)
    // and in a build, as a warning
    const c = expectOk(await publishC(s), ['PRUNE_REFUSED'])
    expect(coded(c, 'PRUNE_REFUSED').map((w) => w.message).join('\n')).toContain(rec.release)
    await expectAllThere(s.bucket, s.keys)
  })

  // The record of the release the stable manifest names is damaged. Unparsable bytes and a
  // parsable record of the wrong shape are treated alike: the record counts as unreadable, the
  // publish goes on (it needs nothing from that record), and every prune refuses to delete
  // anything, naming the object, until it is fixed or removed. Nothing is lost either way.
  test('the current release’s own record is garbage bytes: the publish goes on, every prune refuses naming the key; nothing deleted', async () => {
    const s = await twoReleases('badcurrent')
    const key = recordKey(PREFIX, s.b.manifest!.release)
    await putObject(admin, s.bucket, key, 'not json {', 'application/json')
    const c = expectOk(await publishC(s), ['PRUNE_REFUSED'])
    await expectCurrent(admin, s.bucket, PREFIX, c)
    expect(coded(c, 'PRUNE_REFUSED').map((w) => w.message).join('\n')).toContain(key)
    await expectAllThere(s.bucket, s.keys)
    // the damaged object is left for its owner to fix; the prune on its own refuses too
    expect((await readObject(admin, s.bucket, key)).bytes.toString()).toBe('not json {')
    const r = await prune(s.bucket)
    expect(r.refused).toContain(key)
    expect(r.deleted).toEqual([])
  })

  test('the current release’s own record is JSON of the wrong shape: the publish goes on, the prune refuses naming the key; nothing deleted', async () => {
    const s = await twoReleases('shapecurrent')
    const key = recordKey(PREFIX, s.b.manifest!.release)
    await putObject(admin, s.bucket, key, JSON.stringify({ version: 1, release: s.b.manifest!.release }), 'application/json')
    const c = expectOk(await publishC(s), ['PRUNE_REFUSED'])
    await expectCurrent(admin, s.bucket, PREFIX, c)
    const refused = coded(c, 'PRUNE_REFUSED')
    expect(refused.map((w) => w.message).join('\n')).toContain(key)
    await expectAllThere(s.bucket, s.keys)
  })

  test('the stable manifest names a release that has no record: the prune refuses and deletes nothing', async () => {
    const s = await twoReleases('norecord')
    const m = JSON.parse(readFileSync(path.join(s.root, 'dist/cdn-manifest.json'), 'utf8')) as Record<string, unknown>
    await putObject(admin, s.bucket, `${PREFIX}cdn-manifest.json`, JSON.stringify({ ...m, release: 'aaaaaaaaaaaaaaaa' }), 'application/json')
    const before = await bucketState(admin, s.bucket)
    const r = await prune(s.bucket)
    expect(r.refused).toMatch(/names release "aaaaaaaaaaaaaaaa", but no record of it exists/)
    expect(r.deleted).toEqual([])
    expect(await bucketState(admin, s.bucket)).toEqual(before)
  })

  // -------------------------------------------------------------------------------------------
  // clock skew

  // one PRUNE_KEPT for each timestamp in the future: a replaced release has two (published, replaced)
  test.each([
    ['a replaced release published and replaced in the future', 'replaced', 'publishedAt', ['PRUNE_KEPT', 'PRUNE_KEPT']],
    ['a pending release created in the future', 'pending', 'createdAt', ['PRUNE_KEPT']],
  ])('%s: kept with a clock-skew warning; nothing of it deleted; the rest is pruned normally', async (_what, state, field, warnings) => {
    const s = await twoReleases('skew')
    const future = new Date(Date.now() + 24 * 3600_000).toISOString()
    const id = 'f0f0f0f0f0f0f0f0'
    const file = 'assets/future-AbCdEf12.js'
    const bytes = Buffer.from('export const fromTheFuture = 1\n')
    await putObject(admin, s.bucket, PREFIX + file, bytes, 'text/javascript')
    const record: ReleaseRecord = {
      version: 1,
      release: id,
      state: state as ReleaseRecord['state'],
      createdAt: future,
      ...(state === 'replaced' ? { publishedAt: future, replacedAt: future } : {}),
      manifest: 'cdn-manifest.json',
      files: { [file]: { integrity: sri(bytes), size: bytes.length, immutable: true } },
    }
    await putObject(admin, s.bucket, recordKey(PREFIX, id), JSON.stringify(record), 'application/json')

    const o = await publishC(s)
    const c = expectOk(o, warnings)
    await expectCurrent(admin, s.bucket, PREFIX, c)
    const report = c.report<Report>()
    expect(report.prune?.refused).toBeUndefined()
    expect(report.prune?.releases.kept).toContain(id)
    const warning = `release ${id}: ${field} is in the future (clock skew?)`
    expect(report.prune?.warnings.join('\n')).toContain(warning)
    expect(coded(c, 'PRUNE_KEPT').map((w) => w.message).join('\n')).toContain(warning)
    expect(await objectExists(admin, s.bucket, PREFIX + file)).toBe(true)
    expect(await objectExists(admin, s.bucket, recordKey(PREFIX, id))).toBe(true)
    // not a refusal: the expired releases went (so the skewed one was kept on purpose)
    expect(report.prune?.releases.deleted).toEqual(expect.arrayContaining([s.a.manifest!.release]))
    expect(await objectExists(admin, s.bucket, recordKey(PREFIX, s.a.manifest!.release))).toBe(false)
  })

  // -------------------------------------------------------------------------------------------
  // a stable manifest that is not this plugin's

  test.each([
    ['not JSON', '<!doctype html><title>not a manifest</title>'],
    ['JSON of another tool', '{"name":"other-deploy-tool","files":["app.js"],"version":"3"}'],
  ])('a stable manifest that is %s: the publish treats the previous release as unknown and succeeds; every file a kept release names stays', async (_what, foreign) => {
    const s = await twoReleases('foreign')
    await putObject(admin, s.bucket, `${PREFIX}cdn-manifest.json`, foreign, 'application/json')
    const o = await publishC(s)
    // PRUNE_KEPT: B is no longer current, but its record still says so
    const c = expectOk(o, ['PRUNE_KEPT'])
    await expectCurrent(admin, s.bucket, PREFIX, c)
    const report = c.report<Report>()
    expect(report.ok).toBe(true)
    expect(report.previous, 'the previous release is unknown').toBeUndefined()
    // C's publish did not know B was current, so it did not mark B replaced: B's record (if the
    // prune kept it) still says 'current'
    if (report.prune?.releases.kept.includes(s.b.manifest!.release)) {
      expect((await storedRecord(admin, s.bucket, PREFIX, s.b.manifest!.release)).state).toBe('current')
    }
    // whatever the prune decided, it is coherent: no failure, and every kept release is complete
    expect(report.prune?.failed ?? []).toEqual([])
    const listed = new Set((await listAll(admin, s.bucket)).map((x) => x.key))
    for (const id of report.prune?.releases.kept ?? []) {
      const rec = await storedRecord(admin, s.bucket, PREFIX, id)
      for (const p of Object.keys(rec.files)) expect(listed.has(PREFIX + p), `${p} of kept release ${id}`).toBe(true)
    }
    expect(report.prune?.releases.kept).toContain(c.manifest!.release)
    // a release whose record still says 'current' was replaced at an unknown time: the prune says so
    if (report.prune?.releases.deleted.includes(s.b.manifest!.release)) {
      expect(report.prune.warnings.join('\n')).toMatch(new RegExp(`release ${s.b.manifest!.release} is not current but its record says state 'current'`))
    }
  })

  test('a stable manifest that is not JSON, pruned on its own (no publish): the prune refuses or keeps every release', async () => {
    const s = await twoReleases('foreignprune')
    await putObject(admin, s.bucket, `${PREFIX}cdn-manifest.json`, 'garbage', 'text/plain')
    const before = await bucketState(admin, s.bucket)
    const r = await prune(s.bucket)
    // with no readable current release, "keep the newest `releases`" still keeps B; A may go only
    // if nothing names its files any more, and nothing B names may ever be deleted
    for (const k of await releaseKeys(admin, s.bucket, PREFIX, s.b)) expect(r.deleted, k).not.toContain(k)
    expect(r.releases.kept).toContain(s.b.manifest!.release)
    const after = new Set((await bucketState(admin, s.bucket)).map((x) => x.key))
    for (const o of before) if (!r.deleted.includes(o.key)) expect(after.has(o.key), o.key).toBe(true)
    expect(after.has(`${PREFIX}cdn-manifest.json`)).toBe(true)
  })

  test('garbage where the record of the release being published goes: it is rewritten as that release’s record; the publish completes', async () => {
    const s = await twoReleases('ownrecord')
    // C's record exists already, as garbage (a crashed tool wrote it); C is then published
    const built = expectOk(await withEnv({}, () => tryBuild('vite8', s.root, { publish: false })))
    const key = recordKey(PREFIX, built.manifest!.release)
    await putObject(admin, s.bucket, key, '\u0000\u0001binary', 'application/octet-stream')
    const c = expectOk(await publishC(s))
    expect(c.manifest!.release).toBe(built.manifest!.release)
    await expectCurrent(admin, s.bucket, PREFIX, c)
    const record = JSON.parse((await readObject(admin, s.bucket, key)).bytes.toString()) as ReleaseRecord
    expect(record).toMatchObject({ version: 1, release: c.manifest!.release, state: 'current' })
    expect(Object.keys(record.files).sort()).toEqual(Object.keys(c.manifest!.files).sort())
    // whatever the prune after it deleted, every file C names is there
    for (const k of await releaseKeys(admin, s.bucket, PREFIX, c)) expect(await objectExists(admin, s.bucket, k), k).toBe(true)
  })

})
