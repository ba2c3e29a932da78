/**
 * `skewGuard`: what the deploy core adds to a published directory — the guard file (under 1 KB,
 * content-hashed), `cdn-release.json` naming the build and release, and the guard's `<script>`
 * before the first script of every page — and the order of the switch: every page, then
 * `cdn-release.json`, then the stable manifest. Real `vite build`s published to the S3 test
 * servers through a counting proxy; a page written after the build goes through the directory
 * pass as a framework's page would. The guard's behaviour in a browser is test/e2e/skew-guard.test.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { placeBeforeFirstScript } from '../src/build/html-refs.js'
import { RELEASE_FILE, releaseId } from '../src/build/manifest.js'
import { buildId, GUARD_SCRIPT } from '../src/build/skew-guard.js'
import { finalDirectory } from '../src/deploy/directory.js'
import { resolveBuildOptions } from '../src/options/build.js'
import type { CdnManifest } from '../src/index.js'
import { captureLogs, codes, fixtureCopies, readReport, viteBuild, vites, type BuildResult } from './helpers/build.js'
import { cliEnv, runCli } from './helpers/cli.js'
import { adminClient, createBucket, credsEnv, readObject, startCountingProxy, withEnv, type CountingProxy } from './helpers/s3.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const GUARD_RE = /^cdn-skew-guard-[\w-]{8}\.js$/
const guardOf = (m: CdnManifest) => Object.keys(m.files).find((p) => GUARD_RE.test(p))!
/** The guard elements of a page, with their attributes. */
const guardTags = (html: string) => [...html.matchAll(/<script\b[^>]*\bdata-cdn-skew-guard\b[^>]*><\/script>/g)].map((m) => m[0])

describe('the guard script', () => {
  test('is at most 1 KB, has no dependency and is valid script', () => {
    expect(Buffer.byteLength(GUARD_SCRIPT)).toBeLessThanOrEqual(1024)
    expect(GUARD_SCRIPT).not.toMatch(/\bimport\b|\brequire\(/)
    expect(() => new Function(GUARD_SCRIPT)).not.toThrow()
  })
})

describe('placeBeforeFirstScript', () => {
  const tag = '<script src="/g.js" data-cdn-skew-guard></script>'
  const ours = (attr: (n: string) => string | undefined) => attr('data-cdn-skew-guard') !== undefined
  test('goes before the first script of the page, head or body, and keeps the rest byte for byte', () => {
    const html = '<!doctype html><html><head><meta charset=utf-8><title>x</title></head><body><p>a</p><script type="module" src="/a.js"></script><script>1</script></body></html>'
    expect(placeBeforeFirstScript(html, tag, ours)).toBe(html.replace('<script type="module"', `${tag}<script type="module"`))
    const inHead = '<html><head><script src="/x.js"></script></head><body><script>2</script></body></html>'
    expect(placeBeforeFirstScript(inHead, tag, ours)).toBe(inHead.replace('<script src="/x.js">', `${tag}<script src="/x.js">`))
  })
  test('replaces the element a previous pass put there, and changes nothing when it is the same', () => {
    const html = `<head>${tag}<script src="/a.js"></script></head>`
    expect(placeBeforeFirstScript(html, tag, ours)).toBeUndefined()
    const newer = '<script src="/g2.js" data-cdn-skew-guard></script>'
    expect(placeBeforeFirstScript(html, newer, ours)).toBe(`<head>${newer}<script src="/a.js"></script></head>`)
  })
  test('leaves a page without scripts alone (scripts inside <template> and SVG do not count)', () => {
    expect(placeBeforeFirstScript('<p>static</p>', tag, ours)).toBeUndefined()
    expect(placeBeforeFirstScript('<template><script src="/t.js"></script></template><svg><script>1</script></svg>', tag, ours)).toBeUndefined()
  })
})

describe('the skewGuard option', () => {
  test('true, false, and an object with reload and poll', () => {
    expect(resolveBuildOptions({}).skewGuard).toBe(false)
    expect(resolveBuildOptions({ skewGuard: true }).skewGuard).toEqual({ reload: true, pollMs: false })
    expect(resolveBuildOptions({ skewGuard: { poll: '5m', reload: false } }).skewGuard).toEqual({ reload: false, pollMs: 300_000 })
  })
  test.each([
    [{ skewGuard: 'yes' }, "Invalid option `skewGuard`: expected true, false, or an object such as { poll: '5m' }, got \"yes\"."],
    [{ skewGuard: { polling: '5m' } }, 'Invalid option `skewGuard.polling`: expected one of the known options (reload, poll), got an unknown option.'],
    [{ skewGuard: { reload: 'no' } }, 'Invalid option `skewGuard.reload`: expected a boolean, got "no".'],
    [{ skewGuard: { poll: 300 } }, "Invalid option `skewGuard.poll`: expected a duration such as '5m', or false, got 300."],
    [{ skewGuard: { poll: '5s' } }, "Invalid option `skewGuard.poll`: expected a duration of at least '10s' (every page asks once per period), got \"5s\"."],
  ])('%j is refused, naming the option', (options, message) => {
    expect(() => resolveBuildOptions(options as never)).toThrow(message)
  })
})

test.each(vites)('with %s, a page written after the build gets the guard too; a second pass over the result changes nothing', async (vite) => {
  const root = fx.project('playground/skew')
  const r = await viteBuild(vite, root, { sri: true })
  expect(codes(r)).toEqual([])
  const dir = r.outDir
  mkdirSync(path.join(dir, 'late'), { recursive: true })
  writeFileSync(path.join(dir, 'late/page.html'), '<!doctype html><html><head><title>late</title></head><body><script src="/late.js"></script></body></html>\n')
  writeFileSync(path.join(dir, 'late.js'), 'window.late = 1\n')
  writeFileSync(path.join(dir, 'static.html'), '<!doctype html><p>no scripts</p>\n')
  const input = { dir, manifest: 'cdn-manifest.json', fingerprintPublic: true, hashLength: 8, sri: true, skewGuard: { reload: true, pollMs: false as const } }

  const first = await finalDirectory(input)
  const m = first.manifest
  const guard = guardOf(m)
  const late = Object.keys(m.files).find((p) => /^late-[\w-]{8}\.js$/.test(p))!
  expect(first.changes).toEqual([
    { path: 'late.js', action: 'add', immutable: false, reason: 'written after the build, no content hash in its name, mutable' },
    { path: 'late/page.html', action: 'add', immutable: false, reason: 'page written after the build, mutable' },
    { path: 'static.html', action: 'add', immutable: false, reason: 'page written after the build, mutable' },
    { path: late, action: 'fingerprint', immutable: true, reason: 'fingerprinted copy of late.js' },
    { path: 'late/page.html', action: 'rewrite', reason: `names the fingerprinted copies of late.js; integrity of ${late}; loads the skew guard` },
    { path: guard, action: 'add', immutable: true, reason: 'the skew guard (skewGuard)' },
    { path: 'index.html', action: 'rewrite', reason: 'loads the skew guard' },
    { path: RELEASE_FILE, action: 'add', immutable: false, reason: 'names the live build for the skew guard (skewGuard)' },
  ])
  expect(Buffer.from(first.writes.get(guard)!).toString()).toBe(GUARD_SCRIPT)
  expect(m.files[guard]).toMatchObject({ immutable: true, contentType: 'text/javascript; charset=utf-8' })
  expect(m.files[RELEASE_FILE]).toMatchObject({ immutable: false, contentType: 'application/json; charset=utf-8' })
  const build = buildId(m.files)
  expect(JSON.parse(Buffer.from(first.writes.get(RELEASE_FILE)!).toString())).toEqual({ build, release: m.release })
  expect(m.release).toBe(releaseId(m.files))

  const page = (p: string) => Buffer.from(first.writes.get(p)!).toString()
  // each page that runs scripts loads the guard first, with the build id, the release file's URL and (sri) its integrity
  const expected = `<script src="/${guard}" data-cdn-skew-guard data-build="${build}" data-release-url="/${RELEASE_FILE}" integrity="${m.files[guard].integrity}" crossorigin></script>`
  expect(guardTags(page('index.html'))).toEqual([expected])
  expect(page('index.html')).toContain(`${expected}<script type="module" crossorigin src="/assets/`)
  expect(guardTags(page('late/page.html'))).toEqual([expected])
  expect(page('late/page.html')).toContain(`<head><title>late</title></head><body>${expected}<script src="/${late}"`)
  expect(first.writes.has('static.html')).toBe(false)

  for (const [p, bytes] of first.writes) writeFileSync(path.join(dir, p), bytes)
  const again = await finalDirectory(input)
  expect(again.changes).toEqual([])
  expect([...again.writes.keys()]).toEqual([])
  expect(again.manifestText).toBe(first.manifestText)
})

test('a relative base: the guard and the release file are named relative to each page', async () => {
  const root = fx.project('playground/skew')
  const r = await viteBuild('vite8', root, {}, { base: './' })
  expect(codes(r)).toEqual([])
  mkdirSync(path.join(r.outDir, 'nested'), { recursive: true })
  writeFileSync(path.join(r.outDir, 'nested/index.html'), '<!doctype html><script src="../x.js"></script>\n')
  const final = await finalDirectory({ dir: r.outDir, manifest: 'cdn-manifest.json', fingerprintPublic: false, hashLength: 8, skewGuard: { reload: false, pollMs: 60_000 } })
  const guard = guardOf(final.manifest)
  const build = buildId(final.manifest.files)
  const tag = (up: string) => `<script src="${up}${guard}" data-cdn-skew-guard data-build="${build}" data-release-url="${up}${RELEASE_FILE}" data-poll="60000" data-reload="false"></script>`
  expect(guardTags(Buffer.from(final.writes.get('index.html')!).toString())).toEqual([tag('./')])
  expect(guardTags(Buffer.from(final.writes.get('nested/index.html')!).toString())).toEqual([tag('../')])
})

describe.each(servers.map((s) => [s.name, s] as const))('published with the guard, on %s', (name, server) => {
  const admin = adminClient(server)
  let proxy: CountingProxy
  beforeAll(async () => {
    proxy = await startCountingProxy(server.endpoint)
  })
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
  })

  test('every page, then cdn-release.json (no-cache), then the stable manifest; the same build again uploads nothing; a rollback restores it in that order', async () => {
    const bucket = await createBucket(admin, `guard-${name}`)
    const root = fx.project('playground/skew')
    const publish = async (): Promise<BuildResult> => {
      const logs = captureLogs()
      const r = await withEnv(credsEnv(server), () =>
        viteBuild('vite8', root, { skewGuard: true, publish: { bucket, prefix: 'app/', endpoint: proxy.endpoint, forcePathStyle: true } }, { customLogger: logs.logger }),
      )
      expect(codes(r)).toEqual([])
      expect(logs.text()).toContain('[cdn-publish] published release')
      return r
    }
    proxy.reset()
    const r = await publish()
    const m = r.manifest!
    expect(Object.keys(m.files)).toEqual(expect.arrayContaining([guardOf(m), RELEASE_FILE, 'index.html']))
    expect(JSON.parse(r.text(RELEASE_FILE))).toEqual({ build: buildId(m.files), release: m.release })
    const stored = await readObject(admin, bucket, `app/${RELEASE_FILE}`)
    expect(stored.bytes.toString()).toBe(r.text(RELEASE_FILE))
    expect(stored.cacheControl).toBe('no-cache')
    expect(stored.contentType).toBe('application/json; charset=utf-8')
    expect((await readObject(admin, bucket, `app/${guardOf(m)}`)).cacheControl).toBe('public, max-age=31536000, immutable')

    const puts = proxy
      .requests()
      .filter((q) => q.method === 'PUT' && q.bucket === bucket)
      .map((q) => q.key)
    const at = (key: string) => puts.lastIndexOf(key)
    expect(at('app/index.html')).toBeGreaterThan(at(`app/${guardOf(m)}`))
    expect(at(`app/${RELEASE_FILE}`)).toBeGreaterThan(at('app/index.html'))
    expect(at('app/cdn-manifest.json')).toBe(at(`app/${RELEASE_FILE}`) + 1)

    proxy.reset()
    const again = await publish()
    expect(again.manifest!.release).toBe(m.release)
    expect(readReport(root).uploaded).toEqual([])
    expect(proxy.requests().filter((q) => q.method === 'PUT' && q.bucket === bucket)).toEqual([])

    // release 2, then a rollback to release 1: cdn-release.json names release 1's build again,
    // written after the page it speaks for and before the manifest
    const route = path.join(root, 'src/routes/report.js')
    writeFileSync(route, readFileSync(route, 'utf8').replace("'release one'", "'release two'"))
    const second = await publish()
    expect(JSON.parse((await readObject(admin, bucket, `app/${RELEASE_FILE}`)).bytes.toString())).toEqual({ build: buildId(second.manifest!.files), release: second.manifest!.release })
    proxy.reset()
    const back = await runCli(['rollback', m.release, '--bucket', bucket, '--prefix', 'app/', '--endpoint', proxy.endpoint], cliEnv(credsEnv(server)))
    expect(back.code, back.stderr).toBe(0)
    expect((await readObject(admin, bucket, `app/${RELEASE_FILE}`)).bytes.toString()).toBe(r.text(RELEASE_FILE))
    const restored = proxy
      .requests()
      .filter((q) => q.method === 'PUT' && q.bucket === bucket && !q.key.startsWith('app/.cdn-publish/'))
      .map((q) => q.key)
    expect(restored).toEqual(['app/index.html', `app/${RELEASE_FILE}`, 'app/cdn-manifest.json'])
  })
})
