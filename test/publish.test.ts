/**
 * Publishing, end to end: real `vite build`s of the fixture app with the plugin's `publish`
 * options, against both S3 test servers (radosgw and s3rver), through a counting loopback proxy
 * that sees every request. What landed is read back with the test's own SDK client.
 */
import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest } from '../src/index.js'
import type { PublishOptions } from '../src/options/types.js'
import type { ReleaseRecord } from '../src/bucket/record.js'
import type { PublishReport } from '../src/publish/report.js'
import { SKIPPED_NO_BUCKET } from '../src/after-build.js'
import { buildError, captureLogs, codes, fixtureCopies, readOutDir, readReport, viteBuild, type BuildResult, type Logs, type ViteName } from './helpers/build.js'
import { sha256hex as sha256 } from './helpers/digest.js'
import { leaseKey, recordKey as recordKeyOf, snapshotKey } from './helpers/keys.js'
import { assertNoSecrets as noSecretsIn } from './helpers/secrets.js'
import {
  adminClient,
  closedPort,
  createBucket,
  credsEnv,
  listAll,
  objectExists,
  putMany,
  putObject,
  readObject,
  startCountingProxy,
  withEnv,
  type CountingProxy,
  type EnvVars,
} from './helpers/s3.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())
const fixture = () => fx.copy()

/** Secrets that must never appear in any output, error or written file. */
const secrets = new Set<string>()
const FAKE = { accessKeyId: 'AKIAFAKEKEYID7Q3ZP2X', secretAccessKey: 'fAkEsEcReT/kX9vQ2pL7mN4bR8tY1wE5uI0oP3aS', sessionToken: 'FaKeSeSsIoNtOkEn-9f8e7d6c5b4a' }
secrets.add(FAKE.secretAccessKey)
secrets.add(FAKE.sessionToken)
secrets.add(FAKE.accessKeyId)

// ---------------------------------------------------------------------------------------------
// helpers

const STACK_RE = /\n\s+at\s/
const assertNoSecrets = (where: string, text: string) => noSecretsIn(secrets, where, text)

/** Every file of the output directory (the report included) as text. */
function outDirText(outDir: string): string {
  return [...readOutDir(outDir).values()].map((b) => b.toString('latin1') + b.toString('utf8')).join('\n')
}

interface Published {
  result: BuildResult
  logs: Logs
  manifest: CdnManifest
  report: PublishReport
}

/** A build (with `publish`, when given); `warnings`: the codes of every warning it must report. */
async function build(root: string, publish: PublishOptions | false | undefined, config: Record<string, unknown> = {}, vite: ViteName = 'vite8', warnings: string[] = []) {
  const logs = captureLogs()
  const result = await viteBuild(vite, root, publish === undefined ? {} : { publish }, { customLogger: logs.logger, ...config })
  expect(codes(result), 'the warnings of the build').toEqual(warnings)
  assertNoSecrets('the build output', logs.text())
  assertNoSecrets('the output directory', outDirText(result.outDir))
  return { result, logs }
}

async function publishBuild(root: string, publish: PublishOptions, config: Record<string, unknown> = {}, vite: ViteName = 'vite8', warnings: string[] = []): Promise<Published> {
  const { result, logs } = await build(root, publish, config, vite, warnings)
  const report = result.report()
  return { result, logs, manifest: result.manifest!, report }
}

/** A build whose publish fails: the error as the bundler reports it, and what was logged. */
async function failedBuild(root: string, publish: PublishOptions, config: Record<string, unknown> = {}) {
  const logs = captureLogs()
  const error = await buildError(viteBuild('vite8', root, { publish }, { customLogger: logs.logger, ...config }))
  const text = `${error.message}\n${String(error.stack)}\n${JSON.stringify({ ...error })}`
  assertNoSecrets('the error', text)
  assertNoSecrets('the build output', logs.text())
  // no stack trace by default: the message says what failed and how to fix it
  expect(error.message).not.toMatch(STACK_RE)
  expect(String(error.stack ?? '')).not.toMatch(STACK_RE)
  return { error, logs, code: error.pluginCode ?? error.code }
}

function touchPublicImage(root: string, file = 'public/img/logo.png') {
  appendFileSync(path.join(root, file), Buffer.from('changed bytes'))
}

function paths(m: CdnManifest): string[] {
  return Object.keys(m.files).sort()
}

/** Paths of `b` that `a` does not have with the same bytes. */
function changedPaths(a: CdnManifest, b: CdnManifest): string[] {
  return paths(b).filter((p) => a.files[p]?.integrity !== b.files[p].integrity)
}


/** Every mutable file is snapshotted, for a failed switch and for rollbacks. */
const snapshotted = (m: CdnManifest, p: string) => !m.files[p].immutable

/** Keys of the snapshots a release stores: one per distinct bytes of its mutable text files, and its manifest's. */
function snapshotKeys(prefix: string, r: BuildResult, m: CdnManifest, only = paths(m)): string[] {
  const keys = new Set(only.filter((p) => snapshotted(m, p)).map((p) => snapshotKey(prefix, r.files.get(p)!)))
  keys.add(snapshotKey(prefix, r.files.get('cdn-manifest.json')!))
  return [...keys]
}

async function readJson<T>(admin: S3Client, bucket: string, key: string): Promise<T> {
  return JSON.parse((await readObject(admin, bucket, key)).bytes.toString('utf8')) as T
}

/** Every file of the manifest is in the bucket with the build's bytes. */
async function expectServed(admin: S3Client, bucket: string, prefix: string, r: BuildResult, manifest: CdnManifest) {
  const keys = new Set((await listAll(admin, bucket, prefix)).map((o) => o.key))
  for (const p of paths(manifest)) expect(keys.has(prefix + p), `${prefix + p} in the bucket`).toBe(true)
  const stable = await readObject(admin, bucket, `${prefix}cdn-manifest.json`)
  expect(JSON.parse(stable.bytes.toString('utf8')).release).toBe(manifest.release)
  for (const p of paths(manifest)) {
    const back = await readObject(admin, bucket, prefix + p)
    expect(sha256(back.bytes), p).toBe(sha256(r.files.get(p)!))
  }
}

// ---------------------------------------------------------------------------------------------

describe.each(servers.map((s) => [s.name, s] as const))('publish on %s', (name, server) => {
  const admin = adminClient(server)
  let proxy: CountingProxy
  const env = (): EnvVars => credsEnv(server)
  const target = (bucket: string, extra: PublishOptions = {}): PublishOptions => ({ bucket, endpoint: proxy.endpoint, forcePathStyle: true, ...extra })

  beforeAll(async () => {
    secrets.add(server.secretAccessKey)
    if (server.deniedUser) secrets.add(server.deniedUser.secretAccessKey)
    if (name === 'radosgw') secrets.add(server.accessKeyId)
    proxy = await startCountingProxy(server.endpoint)
  })
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
  })

  test.each<ViteName>(['vite8', 'vite7'])('first publish with %s: every file with its bytes and headers, record first, manifest last', async (vite) => {
    const bucket = await createBucket(admin, `first-${vite}`)
    const root = fixture()
    proxy.reset()
    const { result, manifest, report, logs } = await withEnv(env(), () => publishBuild(root, target(bucket, { label: 'commit-abc' }), {}, vite))

    await expectServed(admin, bucket, '', result, manifest)
    for (const p of paths(manifest)) {
      const back = await readObject(admin, bucket, p)
      const f = manifest.files[p]
      expect(back.contentType, p).toBe(f.contentType)
      expect(back.cacheControl, p).toBe(f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      expect(back.contentEncoding, p).toBeUndefined()
    }
    const stable = await readObject(admin, bucket, 'cdn-manifest.json')
    expect(stable.bytes.equals(result.files.get('cdn-manifest.json')!)).toBe(true)
    expect(stable.cacheControl).toBe('no-cache')
    expect(stable.contentType).toBe('application/json; charset=utf-8')

    const record = await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', manifest.release))
    expect(record).toMatchObject({ version: 1, release: manifest.release, state: 'current', label: 'commit-abc', manifest: 'cdn-manifest.json' })
    expect(Date.parse(record.publishedAt!)).toBeGreaterThanOrEqual(Date.parse(record.createdAt))
    expect(Object.keys(record.files).sort()).toEqual(paths(manifest))
    for (const p of paths(manifest)) expect(record.files[p].integrity).toBe(manifest.files[p].integrity)

    // order of writes: the record (pending), every file, the stable manifest, the record (current);
    // the switch (mutable files, manifest, record) under the lease, taken after the last
    // fingerprinted file and snapshot, deleted after the record
    const requests = proxy.requests()
    const puts = requests.filter((r) => r.method === 'PUT')
    expect(puts.map((r) => r.status).every((s) => s === 200)).toBe(true)
    const leasePut = puts.findIndex((r) => r.key === leaseKey(''))
    expect(puts.filter((r) => r.key === leaseKey('')).length).toBe(1)
    expect(puts.slice(0, leasePut).every((r) => manifest.files[r.key]?.immutable !== false && r.key !== 'cdn-manifest.json')).toBe(true)
    expect(puts.slice(leasePut + 1).every((r) => !manifest.files[r.key]?.immutable && !r.key.startsWith('.cdn-publish/snapshots/'))).toBe(true)
    expect(requests.at(-1)).toMatchObject({ method: 'DELETE', key: leaseKey('') })
    expect(await objectExists(admin, bucket, leaseKey(''))).toBe(false)
    const keys = puts.filter((r) => r.key !== leaseKey('')).map((r) => r.key)
    expect(keys[0]).toBe(recordKeyOf('', manifest.release))
    expect(keys.at(-2)).toBe('cdn-manifest.json')
    expect(keys.at(-1)).toBe(recordKeyOf('', manifest.release))
    expect(keys.slice(1, -2).sort()).toEqual([...paths(manifest), ...snapshotKeys('', result, manifest)].sort())
    // each snapshot holds the bytes of the mutable file (or manifest) it copies, for a rollback
    for (const p of [...paths(manifest).filter((f) => snapshotted(manifest, f)), 'cdn-manifest.json']) {
      const snap = await readObject(admin, bucket, snapshotKey('', result.files.get(p)!))
      expect(snap.bytes.equals(result.files.get(p)!), p).toBe(true)
    }
    expect(Object.keys(record.snapshots ?? {}).sort()).toEqual([...paths(manifest).filter((f) => snapshotted(manifest, f)), 'cdn-manifest.json'].sort())
    const lastImmutable = Math.max(...keys.map((k, i) => (manifest.files[k]?.immutable ? i : -1)))
    const firstMutable = keys.findIndex((k) => manifest.files[k] && !manifest.files[k].immutable)
    expect(lastImmutable).toBeLessThan(firstMutable)
    // no ACL is ever sent
    expect(proxy.requests().some((r) => r.query.includes('acl'))).toBe(false)

    // start line with each resolved value and its source; summary line
    const text = logs.text()
    expect(text).toMatch(new RegExp(`\\[cdn-publish\\] publishing release ${manifest.release} "commit-abc" to s3://${bucket}/ at ${proxy.endpoint}: ${paths(manifest).length} files`))
    expect(text).toContain(`bucket ${bucket} (option)`)
    expect(text).toContain('prefix "" (default)')
    expect(text).toContain(`region us-east-1 (env AWS_REGION)`)
    expect(text).toContain(`endpoint ${proxy.endpoint} (option)`)
    expect(text).toContain(`[cdn-publish] published release ${manifest.release} in `)
    expect(text).toMatch(new RegExp(`s: ${paths(manifest).length} files and the manifest uploaded, 0 skipped, [\\d.]+ kB sent; current release ${manifest.release}; prune skipped \\(empty prefix, see retention\\.allowRootPrefix\\)$`, 'm'))

    expect(report).toMatchObject({ ok: true, dryRun: false, release: manifest.release, bucket, prefix: '', label: 'commit-abc' })
    expect(report.settings.bucket).toEqual({ value: bucket, source: 'option' })
    expect(report.uploaded.filter((f) => manifest.files[f.path]).map((f) => f.path).sort()).toEqual(paths(manifest))
    expect(report.skipped).toEqual([])
    expect(report.bytes.total).toBe(paths(manifest).reduce((n, p) => n + manifest.files[p].size, 0))
  })

  test('re-publishing an unchanged build sends no PUT: one listing and one record read', async () => {
    const bucket = await createBucket(admin, 'unchanged')
    const root = fixture()
    const first = await withEnv(env(), () => publishBuild(root, target(bucket)))
    const before = await listAll(admin, bucket)
    proxy.reset()
    const again = await withEnv(env(), () => publishBuild(root, target(bucket)))
    expect(again.manifest.release).toBe(first.manifest.release)

    expect(proxy.count('PUT')).toBe(0)
    expect(proxy.count('DELETE')).toBe(0)
    expect(proxy.count('POST')).toBe(0)
    const reqs = proxy.requests()
    expect(reqs.filter((r) => r.key === '' && r.method === 'GET')).toHaveLength(1) // the listing
    expect(reqs.filter((r) => r.key !== '').map((r) => r.key)).toEqual([recordKeyOf('', first.manifest.release)])
    expect(await listAll(admin, bucket)).toEqual(before)
    expect(again.report.uploaded).toEqual([])
    expect(again.report.skipped.map((f) => f.path).sort()).toEqual([...paths(first.manifest), 'cdn-manifest.json'].sort())
    expect(again.logs.text()).toMatch(new RegExp(`s: 0 files uploaded, ${paths(first.manifest).length} skipped, 0 B sent; current release ${first.manifest.release}; prune skipped \\(empty prefix, see retention\\.allowRootPrefix\\)$`, 'm'))
  })

  test('one public image changed: exactly the image, what names it, changed plain files, the manifest and the records are written', async () => {
    const bucket = await createBucket(admin, 'changed')
    const root = fixture()
    const a = await withEnv(env(), () => publishBuild(root, target(bucket)))
    touchPublicImage(root)
    proxy.reset()
    const b = await withEnv(env(), () => publishBuild(root, target(bucket)))

    const changed = changedPaths(a.manifest, b.manifest)
    // the image's new name, the stylesheet naming it, the chunk importing the stylesheet, the
    // page naming all of them, and the plain copy of the image; nothing else
    expect(changed.filter((p) => b.manifest.files[p].immutable).map((p) => p.replace(/-[\w-]{8}\./, '-#.')).sort()).toEqual(
      ['assets/index-#.css', 'assets/index-#.js', 'img/logo-#.png'].sort(),
    )
    expect(changed.filter((p) => !b.manifest.files[p].immutable).sort()).toEqual(['img/logo.png', 'index.html'])

    const putKeys = proxy.requests().filter((r) => r.method === 'PUT').map((r) => r.key)
    const expected = [
      leaseKey(''),
      ...changed,
      ...snapshotKeys('', b.result, b.manifest, changed),
      'cdn-manifest.json',
      recordKeyOf('', b.manifest.release),
      recordKeyOf('', b.manifest.release),
      recordKeyOf('', a.manifest.release),
    ]
    expect([...putKeys].sort()).toEqual(expected.sort())
    // after the manifest: the replaced release's record, then this one's marked current, last
    expect(putKeys.slice(-3)).toEqual(['cdn-manifest.json', recordKeyOf('', a.manifest.release), recordKeyOf('', b.manifest.release)])

    await expectServed(admin, bucket, '', b.result, b.manifest)
    // the previous release's files stay for pages that still name them
    for (const p of paths(a.manifest)) expect(await objectExists(admin, bucket, p), p).toBe(true)
    const recA = await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', a.manifest.release))
    const recB = await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', b.manifest.release))
    expect(recB.state).toBe('current')
    expect(recB.previous).toBe(a.manifest.release)
    expect(recA.state).toBe('replaced')
    expect(recA.replacedAt).toBe(recB.publishedAt)
    expect(b.report.previous).toBe(a.manifest.release)
  })

  test('dry run: reads everything, prints the plan, writes nothing', async () => {
    const bucket = await createBucket(admin, 'dryrun')
    const root = fixture()
    const a = await withEnv(env(), () => publishBuild(root, target(bucket)))
    touchPublicImage(root)
    const before = await listAll(admin, bucket)
    proxy.reset()
    const dry = await withEnv({ ...env(), CDN_PUBLISH_DRY_RUN: 'true' }, () => publishBuild(root, target(bucket)))

    expect(await listAll(admin, bucket)).toEqual(before)
    expect(proxy.count('PUT') + proxy.count('POST') + proxy.count('DELETE')).toBe(0)
    const text = dry.logs.text()
    expect(text).toContain('dryRun true (env CDN_PUBLISH_DRY_RUN)')
    const changed = changedPaths(a.manifest, dry.manifest)
    for (const p of changed) expect(text).toMatch(new RegExp(`upload +${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`))
    expect(text).toMatch(/skip +assets\/lazy-[\w-]{8}\.js \([^)]*present\)/)
    expect(text).toMatch(/skip +robots\.txt \([^)]*unchanged\)/)
    expect(text).toMatch(/dry run of release \w+ in [\d.]+ s: would upload \d+ files .*nothing was written/)
    expect(dry.report.dryRun).toBe(true)
    expect(dry.report.ok).toBe(true)
    expect(dry.report.uploaded.filter((f) => !f.key.startsWith('.cdn-publish/')).map((f) => f.path).sort()).toEqual([...changed, 'cdn-manifest.json'].sort())
    expect(dry.report.uploaded.filter((f) => f.key.startsWith('.cdn-publish/snapshots/')).map((f) => f.key).sort()).toEqual(
      snapshotKeys('', dry.result, dry.manifest, changed).sort(),
    )
    // still the previous release
    const stable = await readObject(admin, bucket, 'cdn-manifest.json')
    expect(stable.bytes.equals(a.result.files.get('cdn-manifest.json')!)).toBe(true)
  })

  test('IMMUTABLE_KEY_CONFLICT: nothing is written, the previous release stays served, a rerun after the fix completes', async () => {
    const bucket = await createBucket(admin, 'conflict')
    const root = fixture()
    const a = await withEnv(env(), () => publishBuild(root, target(bucket)))
    touchPublicImage(root)
    const b = await build(root, false)
    const css = b.result.find(/^assets\/index-[\w-]{8}\.css$/)
    // same size, other bytes: only reading the object tells them apart
    await putObject(admin, bucket, css, Buffer.alloc(b.result.files.get(css)!.length, 'x'), 'text/css')
    const before = await listAll(admin, bucket)
    proxy.reset()

    const { code, error } = await withEnv(env(), () => failedBuild(root, target(bucket)))
    expect(code).toBe('IMMUTABLE_KEY_CONFLICT')
    expect(error.message).toContain(css)
    expect(error.message).toContain(`s3://${bucket}/`)
    expect(error.message).toContain('never overwritten')
    expect(proxy.count('PUT')).toBe(0)
    expect(await listAll(admin, bucket)).toEqual(before)
    await expectServed(admin, bucket, '', a.result, a.manifest)
    expect((await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', a.manifest.release))).state).toBe('current')
    const report = readReport(root)
    expect(report.ok).toBe(false)
    expect(report.error?.code).toBe('IMMUTABLE_KEY_CONFLICT')
    expect(report.conflicts.map((f) => f.path)).toEqual([css])

    await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: css }))
    const c = await withEnv(env(), () => publishBuild(root, target(bucket)))
    await expectServed(admin, bucket, '', c.result, c.manifest)
  })

  test('a failed upload stops before the switch; the rerun uploads only what is missing', async () => {
    const bucket = await createBucket(admin, 'failed-put')
    const root = fixture()
    const a = await withEnv(env(), () => publishBuild(root, target(bucket)))
    touchPublicImage(root)
    const b = (await build(root, false)).result
    const js = b.find(/^assets\/index-[\w-]{8}\.js$/)
    proxy.reset()
    proxy.failWhen((r) => r.method === 'PUT' && r.key === js)
    let failure
    try {
      failure = await withEnv(env(), () => failedBuild(root, target(bucket, { concurrency: 1 })))
    } finally {
      proxy.failWhen(undefined)
    }
    expect(failure.code).toBe('PUBLISH_FAILED')
    expect(failure.error.message).toContain(js)
    expect(failure.error.message).toContain(`release ${a.manifest.release} is still served`)
    const firstRun = proxy.requests().filter((r) => r.method === 'PUT')
    expect(firstRun.some((r) => r.key === 'cdn-manifest.json')).toBe(false)
    await expectServed(admin, bucket, '', a.result, a.manifest)
    const pending = await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', b.manifest!.release))
    expect(pending.state).toBe('pending')
    expect(pending.previous).toBe(a.manifest.release)
    expect((await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', a.manifest.release))).state).toBe('current')

    proxy.reset()
    const c = await withEnv(env(), () => publishBuild(root, target(bucket)))
    await expectServed(admin, bucket, '', c.result, c.manifest)
    const uploadedBefore = new Set(firstRun.filter((r) => r.status === 200 && c.manifest.files[r.key]).map((r) => r.key))
    expect(uploadedBefore.size).toBeGreaterThan(0)
    const rerunPuts = proxy.requests().filter((r) => r.method === 'PUT').map((r) => r.key)
    expect(rerunPuts.filter((k) => uploadedBefore.has(k))).toEqual([])
    expect(rerunPuts).toContain(js)
    // the pending record is still right: not rewritten; marked current at the end; A replaced
    expect(rerunPuts.filter((k) => k === recordKeyOf('', c.manifest.release))).toHaveLength(1)
    expect((await readJson<ReleaseRecord>(admin, bucket, recordKeyOf('', a.manifest.release))).state).toBe('replaced')
  })

  test('a publish that stops inside the switch is finished by the rerun', async () => {
    const bucket = await createBucket(admin, 'switch')
    const root = fixture()
    const a = await withEnv(env(), () => publishBuild(root, target(bucket)))
    touchPublicImage(root)
    const b = (await build(root, false)).result.manifest!
    const recB = recordKeyOf('', b.release)
    const recA = recordKeyOf('', a.manifest.release)
    // the record's first PUT (pending) goes through, the second (current, after A's was marked
    // replaced) fails
    let recordPuts = 0
    proxy.failWhen((r) => r.method === 'PUT' && r.key === recB && ++recordPuts > 1)
    let failure
    try {
      failure = await withEnv(env(), () => failedBuild(root, target(bucket)))
    } finally {
      proxy.failWhen(undefined)
    }
    expect(failure.code).toBe('PUBLISH_FAILED')
    expect(failure.error.message).toContain(`already names release ${b.release}`)
    expect(JSON.parse((await readObject(admin, bucket, 'cdn-manifest.json')).bytes.toString()).release).toBe(b.release)
    expect((await readJson<ReleaseRecord>(admin, bucket, recB)).state).toBe('pending')
    // never two records saying current: A's says replaced already, from the moment of the switch
    const replacedA = await readJson<ReleaseRecord>(admin, bucket, recA)
    expect(replacedA.state).toBe('replaced')

    proxy.reset()
    await withEnv(env(), () => publishBuild(root, target(bucket)))
    expect(proxy.requests().filter((r) => r.method === 'PUT').map((r) => r.key)).toEqual([leaseKey(''), recB])
    const [finalA, finalB] = [await readJson<ReleaseRecord>(admin, bucket, recA), await readJson<ReleaseRecord>(admin, bucket, recB)]
    expect(finalB.state).toBe('current')
    expect(finalA).toEqual(replacedA)
    expect(finalA.replacedAt! <= finalB.publishedAt!).toBe(true)
  })

  test('an SSR build never publishes', async () => {
    const bucket = await createBucket(admin, 'ssr')
    const root = fixture()
    proxy.reset()
    const { logs } = await withEnv(env(), () => build(root, target(bucket), { build: { ssr: 'src/main.js' } }))
    expect(proxy.requests()).toEqual([])
    expect(await listAll(admin, bucket)).toEqual([])
    expect(logs.text()).not.toContain('[cdn-publish]')
  })

  test('.env.staging selects another bucket with mode staging; the real environment wins over .env files', async () => {
    const production = await createBucket(admin, 'env-prod')
    const staging = await createBucket(admin, 'env-staging')
    const root = fixture()
    writeFileSync(path.join(root, '.env'), `CDN_PUBLISH_BUCKET=${production}\nCDN_PUBLISH_ENDPOINT=${proxy.endpoint}\nCDN_PUBLISH_FORCE_PATH_STYLE=true\nCDN_PUBLISH_PREFIX=site\n`)
    writeFileSync(path.join(root, '.env.staging'), `CDN_PUBLISH_BUCKET=${staging}\n`)
    const envConfig = { envFile: undefined, envDir: root }

    const s = await withEnv(env(), () => publishBuild(root, {}, { ...envConfig, mode: 'staging' }))
    expect((await listAll(admin, staging)).map((o) => o.key)).toContain('site/cdn-manifest.json')
    expect(await listAll(admin, production)).toEqual([])
    expect(s.logs.text()).toContain(`bucket ${staging} (.env file CDN_PUBLISH_BUCKET)`)
    expect(s.logs.text()).toContain('prefix "site/" (.env file CDN_PUBLISH_PREFIX)')
    expect(s.report.settings.bucket).toEqual({ value: staging, source: '.env file CDN_PUBLISH_BUCKET' })

    await withEnv(env(), () => publishBuild(root, {}, envConfig))
    expect((await listAll(admin, production)).map((o) => o.key)).toContain('site/cdn-manifest.json')

    // a variable of the real environment wins over the same one in a .env file
    const other = await createBucket(admin, 'env-real')
    const r = await withEnv({ ...env(), CDN_PUBLISH_BUCKET: other }, () => publishBuild(root, {}, { ...envConfig, mode: 'staging' }))
    expect(r.logs.text()).toContain(`bucket ${other} (env CDN_PUBLISH_BUCKET)`)
    expect((await listAll(admin, other)).map((o) => o.key)).toContain('site/cdn-manifest.json')
  })

  test('missing credentials: CREDENTIALS_MISSING naming the ways to provide them', async () => {
    const bucket = await createBucket(admin, 'nocreds')
    const { code, error } = await withEnv({ AWS_REGION: server.region }, () => failedBuild(fixture(), target(bucket)))
    expect(code).toBe('CREDENTIALS_MISSING')
    expect(error.message).toContain('AWS_ACCESS_KEY_ID')
    expect(error.message).toContain('AWS_PROFILE')
    expect(error.message).toContain(bucket)
  })

  test('a bucket that does not exist: BUCKET_NOT_FOUND naming bucket and endpoint', async () => {
    const bucket = 'cdn-no-such-bucket-7e3f9a'
    const { code, error } = await withEnv(env(), () => failedBuild(fixture(), target(bucket)))
    expect(code).toBe('BUCKET_NOT_FOUND')
    expect(error.message).toContain(`"${bucket}"`)
    expect(error.message).toContain(proxy.endpoint)
    expect(error.message).toContain('Nothing was written')
  })

  test('credentials without rights: ACCESS_DENIED naming the operation and the IAM actions', async () => {
    const bucket = await createBucket(admin, 'denied')
    // radosgw: a second user without rights on the bucket; s3rver knows one account only, so an
    // unknown access key id is the way it refuses
    const creds = server.deniedUser ?? { accessKeyId: FAKE.accessKeyId, secretAccessKey: FAKE.secretAccessKey }
    const { code, error } = await withEnv(credsEnv(server, creds), () => failedBuild(fixture(), target(bucket)))
    expect(code).toBe('ACCESS_DENIED')
    expect(error.message).toContain(`s3://${bucket}`)
    expect(error.message).toMatch(/^list of /)
    for (const action of ['s3:ListBucket', 's3:GetObject', 's3:PutObject']) expect(error.message).toContain(action)
    expect(await listAll(admin, bucket)).toEqual([])
  })

  test('fake keys and a session token never appear in output, errors, reports or the bucket', async () => {
    const bucket = await createBucket(admin, 'secrets')
    const root = fixture()
    // the server's own keys: a successful publish
    const ok = await withEnv(env(), () => publishBuild(root, target(bucket)))
    expect(ok.report.ok).toBe(true)
    // fake keys with a session token: refused, and reported without them
    const { error } = await withEnv({ ...credsEnv(server, FAKE), AWS_SESSION_TOKEN: FAKE.sessionToken }, () => failedBuild(root, target(bucket)))
    expect(['ACCESS_DENIED', 'PUBLISH_FAILED']).toContain(error.pluginCode)
    assertNoSecrets('the output directory', outDirText(path.join(root, 'dist')))
    for (const o of await listAll(admin, bucket)) {
      const back = await readObject(admin, bucket, o.key)
      assertNoSecrets(o.key, back.bytes.toString('utf8') + JSON.stringify(back.metadata ?? {}))
    }
  })

  test('an unreachable endpoint: ENDPOINT_UNREACHABLE', async () => {
    const port = await closedPort()
    const { code, error } = await withEnv(env(), () =>
      failedBuild(fixture(), { bucket: 'cdn-any', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true }),
    )
    expect(code).toBe('ENDPOINT_UNREACHABLE')
    expect(error.message).toContain(`http://127.0.0.1:${port}`)
    expect(error.message).toContain('ECONNREFUSED')
  })

  test('unicode and spaces in file names: keys round-trip exactly', async () => {
    const bucket = await createBucket(admin, 'unicode')
    const root = fixture()
    const name = 'img/ünï cödé file.png'
    cpSync(path.join(root, 'public/img/logo.png'), path.join(root, 'public', name))
    appendFileSync(path.join(root, 'public', name), 'unicode')
    appendFileSync(path.join(root, 'src/style.css'), `\n.u { background: url("/${name}"); }\n`)
    const p = await withEnv(env(), () => publishBuild(root, target(bucket, { prefix: 'ü prefix' })))

    const fingerprinted = paths(p.manifest).filter((f) => f.startsWith('img/ünï cödé file-'))
    expect(fingerprinted).toHaveLength(1)
    expect(p.manifest.files[name]).toBeDefined()
    const listed = (await listAll(admin, bucket)).map((o) => o.key).sort()
    expect(listed).toEqual(
      [
        ...paths(p.manifest).map((f) => `ü prefix/${f}`),
        ...snapshotKeys('ü prefix/', p.result, p.manifest),
        'ü prefix/cdn-manifest.json',
        recordKeyOf('ü prefix/', p.manifest.release),
      ].sort(),
    )
    await expectServed(admin, bucket, 'ü prefix/', p.result, p.manifest)
    const css = p.result.text(p.result.find(/^assets\/index-[\w-]{8}\.css$/))
    expect(css).toContain(`url(${encodeURI(`/${fingerprinted[0]}`)})`)
  })

  test('more than 1,000 objects under the prefix: paged listing, nothing missed, nothing re-sent', async () => {
    const bucket = await createBucket(admin, 'many')
    const seeds = Array.from({ length: 1100 }, (_, i) => `site/aaa-older/obj-${String(i).padStart(4, '0')}.txt`)
    await putMany(admin, bucket, seeds)
    const root = fixture()
    const p = await withEnv(env(), () => publishBuild(root, target(bucket, { prefix: 'site/' })))
    await expectServed(admin, bucket, 'site/', p.result, p.manifest)

    proxy.reset()
    const again = await withEnv(env(), () => publishBuild(root, target(bucket, { prefix: 'site/' })))
    expect(proxy.count('PUT')).toBe(0)
    // two listing pages (1,100 seeds + the release sort after the seeds) and the record
    const listings = proxy.requests().filter((r) => r.key === '' && r.method === 'GET')
    expect(listings).toHaveLength(2)
    expect(again.report.skipped).toHaveLength(paths(p.manifest).length + 1)
    const all = await listAll(admin, bucket, 'site/')
    expect(all.filter((o) => o.key.startsWith('site/aaa-older/'))).toHaveLength(1100)
  })

  test('header rules, precompression and skipped source maps land as configured', async () => {
    const bucket = await createBucket(admin, 'headers')
    const root = fixture()
    const options = target(bucket, {
      sourcemaps: 'skip',
      precompress: 'gzip',
      headers: [
        { match: '**/*.png', headers: { 'Cache-Control': 'public, max-age=600', 'x-amz-meta-team': 'web' } },
        { match: ['img/logo*.png'], headers: { 'cache-control': 'public, max-age=60' } },
        { match: 'fonts/**', headers: { 'Content-Disposition': 'inline' } },
      ],
      cacheControl: { mutable: 'public, max-age=0, must-revalidate' },
    })
    const p = await withEnv(env(), () => publishBuild(root, options, { build: { sourcemap: true } }))
    const maps = paths(p.manifest).filter((f) => f.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(0)
    for (const m of maps) expect(await objectExists(admin, bucket, m), m).toBe(false)

    for (const f of paths(p.manifest).filter((x) => !x.endsWith('.map'))) {
      const back = await readObject(admin, bucket, f)
      const local = p.result.files.get(f)!
      if (/\.(js|css|html|txt)$/.test(f)) {
        expect(back.contentEncoding, f).toBe('gzip')
        expect(gunzipSync(back.bytes).equals(local), f).toBe(true)
      } else {
        expect(back.contentEncoding, f).toBeUndefined()
        expect(back.bytes.equals(local), f).toBe(true)
      }
      if (f.startsWith('img/logo')) {
        expect(back.cacheControl, f).toBe('public, max-age=60')
        expect(back.metadata?.team, f).toBe('web')
      } else if (f.endsWith('.png')) expect(back.cacheControl, f).toBe('public, max-age=600')
      else if (f === 'index.html') expect(back.cacheControl).toBe('public, max-age=0, must-revalidate')
      expect(back.contentType, f).toBe(p.manifest.files[f].contentType)
      if (f.startsWith('fonts/')) expect(back.contentDisposition, f).toBe('inline')
    }
    const stable = await readObject(admin, bucket, 'cdn-manifest.json')
    expect(stable.contentEncoding).toBeUndefined()
    expect(stable.bytes.equals(p.result.files.get('cdn-manifest.json')!)).toBe(true)

    // unchanged: nothing to send, although the stored bytes differ from the local ones
    proxy.reset()
    await withEnv(env(), () => publishBuild(root, options, { build: { sourcemap: true } }))
    expect(proxy.count('PUT')).toBe(0)

    // changed header rules re-send the files whose headers change (same bytes): the pngs, and the
    // fonts that lost their Content-Disposition
    proxy.reset()
    const changed = { ...options, headers: [{ match: '**/*.png', headers: { 'cache-control': 'public, max-age=900' } }] }
    await withEnv(env(), () => publishBuild(root, changed, { build: { sourcemap: true } }))
    const resent = proxy.requests().filter((r) => r.method === 'PUT' && p.manifest.files[r.key]).map((r) => r.key)
    expect(resent.sort()).toEqual(paths(p.manifest).filter((f) => f.endsWith('.png') || f.startsWith('fonts/')).sort())
    for (const f of resent.filter((x) => x.endsWith('.png'))) expect((await readObject(admin, bucket, f)).cacheControl).toBe('public, max-age=900')
    for (const f of resent.filter((x) => x.startsWith('fonts/'))) expect((await readObject(admin, bucket, f)).contentDisposition).toBeUndefined()
  })
})

// ---------------------------------------------------------------------------------------------
// without a server

describe('publish configuration', () => {
  test('no bucket: the build succeeds and says once how to enable publishing', async () => {
    const root = fixture()
    const { logs, result } = await withEnv({}, () => build(root, {}))
    expect(logs.lines.filter((l) => l.includes('[cdn-publish]'))).toEqual([`[cdn-publish] ${SKIPPED_NO_BUCKET}`])
    expect(result.files.has('cdn-publish-report.json')).toBe(false)
    // and with no publish option at all
    const { logs: logs2 } = await withEnv({}, () => build(root, undefined))
    expect(logs2.lines.filter((l) => l.includes('[cdn-publish]'))).toEqual([`[cdn-publish] ${SKIPPED_NO_BUCKET}`])
  })

  test('publish: false does nothing at all, even with a bucket in the environment', async () => {
    const root = fixture()
    const { logs } = await withEnv({ CDN_PUBLISH_BUCKET: 'cdn-anything' }, () => build(root, false))
    expect(logs.text()).not.toContain('[cdn-publish]')
  })

  const invalid: [string, PublishOptions, EnvVars, RegExp][] = [
    ['an s3:// URL as bucket', { bucket: 's3://my-bucket/site' }, {}, /`publish\.bucket`.*bare bucket name.*use bucket 'my-bucket' and prefix 'site\/'/],
    ['a bucket name with a space', { bucket: 'my bucket' }, {}, /`publish\.bucket`: expected a bucket name/],
    ['concurrency 0', { bucket: 'b-ok', concurrency: 0 }, {}, /`publish\.concurrency`: expected an integer from 1 to 128, got 0/],
    ['sourcemaps: no', { bucket: 'b-ok', sourcemaps: 'no' as 'skip' }, {}, /`publish\.sourcemaps`: expected 'publish' or 'skip', got "no"/],
    ['precompress: zip', { bucket: 'b-ok', precompress: 'zip' as 'gzip' }, {}, /`publish\.precompress`: expected false, 'gzip', 'br'/],
    ['an endpoint without scheme', { bucket: 'b-ok', endpoint: 'localhost:9000' }, {}, /`publish\.endpoint`: expected an http\(s\) URL/],
    ['a malformed glob', { bucket: 'b-ok', headers: [{ match: '{a,b', headers: { 'cache-control': 'x' } }] }, {}, /`publish\.headers\[0\]\.match`.*"\{a,b".*without a matching "\}"/],
    ['a reserved header', { bucket: 'b-ok', headers: [{ match: '**', headers: { 'Content-Length': '1' } }] }, {}, /`publish\.headers\[0\]\.headers`.*"Content-Length".*sets itself/],
    ['a misspelt option', { bukcet: 'b-ok' } as PublishOptions, {}, /`publish\.bukcet`: expected one of the known options/],
    ['a credentials option', { bucket: 'b-ok', secretAccessKey: FAKE.secretAccessKey } as PublishOptions, {}, /`publish\.secretAccessKey`: credentials are never options/],
    ['an endpoint with a password', { bucket: 'b-ok', endpoint: `https://user:${FAKE.secretAccessKey}@s3.example.com` }, {}, /`publish\.endpoint`.*not printed/],
    ['a boolean variable', {}, { CDN_PUBLISH_BUCKET: 'b-ok', CDN_PUBLISH_FORCE_PATH_STYLE: 'maybe' }, /CDN_PUBLISH_FORCE_PATH_STYLE: expected true or false.*got "maybe"/],
  ]
  test.each(invalid)('INVALID_OPTION: %s', async (_, options, vars, message) => {
    const { code, error } = await withEnv(vars, () => failedBuild(fixture(), options))
    expect(code).toBe('INVALID_OPTION')
    expect(error.message).toMatch(message)
  })
})
