/**
 * The deploy core's directory pass on real directories: a build's manifest reconciled with files a
 * framework added or dropped after the bundle, pages written after the bundle given the build's
 * HTML pass, and a static directory with no manifest at all. No bucket here: what is published
 * from these directories is tested in ./cli-directory.test.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { finalDirectory, type DirectoryInput } from '../../src/deploy/directory.js'
import type { CdnManifest } from '../../src/index.js'
import { readOutDir, removeDir, repoRoot } from '../helpers/build.js'
import { hash8, sri } from '../helpers/digest.js'

const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')

/** A directory with these files (path → text or bytes). */
function directory(files: Record<string, string | Uint8Array>): string {
  mkdirSync(path.join(repoRoot, 'test/.tmp'), { recursive: true })
  const dir = mkdtempSync(path.join(repoRoot, 'test/.tmp/dir-'))
  dirs.push(dir)
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    writeFileSync(path.join(dir, rel), body)
  }
  return dir
}

/** A manifest as a build writes it, listing `files` (path → bytes) with `immutable` paths. */
function builtManifest(files: Record<string, string | Uint8Array>, immutable: string[]): string {
  const listed: CdnManifest['files'] = {}
  for (const [p, body] of Object.entries(files)) {
    listed[p] = { size: Buffer.byteLength(body), integrity: sri(body), contentType: 'application/octet-stream', immutable: immutable.includes(p) }
  }
  const manifest: CdnManifest = {
    version: 1,
    release: 'built-release-0001',
    base: '/',
    entries: { 'index.html': { file: 'assets/index-BxP3kQ9a.js', isEntry: true } },
    files: listed,
    aliases: {},
  }
  return JSON.stringify(manifest)
}

const input = (dir: string, extra: Partial<DirectoryInput> = {}): DirectoryInput => ({ dir, manifest: 'cdn-manifest.json', fingerprintPublic: true, hashLength: 8, ...extra })

describe('a build directory a framework changed after the bundle', () => {
  const built = {
    'index.html': '<!doctype html><script type="module" src="/assets/index-BxP3kQ9a.js"></script>',
    'assets/index-BxP3kQ9a.js': 'console.log(1)',
    '.vite/manifest.json': '{}',
    '.vite/ssr-manifest.json': '{}',
    'favicon.ico': 'icon',
  }
  const later = {
    'about/index.html': '<!doctype html><img src="/img/hero.png"><link rel="icon" href="/favicon.ico"><a href="/">home</a>',
    'img/hero.png': PNG,
    'assets/manifest-0f3a9c1e.js': 'window.__manifest={}',
    '_app/version.json': '{"version":"1"}',
    'cdn-publish-report.json': '{"stale":true}',
  }

  test('added files are classified, .vite/ is left out, the late page names fingerprinted copies', async () => {
    const { '.vite/ssr-manifest.json': _dropped, ...kept } = built
    const dir = directory({ ...kept, ...later, 'cdn-manifest.json': builtManifest(built, ['assets/index-BxP3kQ9a.js']) })
    const before = readOutDir(dir)
    const final = await finalDirectory(input(dir))

    const hero = `img/hero-${hash8(PNG)}.png`
    const icon = `favicon-${hash8('icon')}.ico`
    expect(final.built).toBe(true)
    expect(final.changes).toEqual([
      { path: '.vite/manifest.json', action: 'drop', reason: 'build-internal (.vite/), not served' },
      { path: '.vite/ssr-manifest.json', action: 'drop', reason: 'build-internal (.vite/), removed after the build' },
      { path: '_app/version.json', action: 'add', immutable: false, reason: 'written after the build, no content hash in its name, mutable' },
      { path: 'about/index.html', action: 'add', immutable: false, reason: 'page written after the build, mutable' },
      { path: 'assets/manifest-0f3a9c1e.js', action: 'add', immutable: true, reason: 'written after the build, name carries a content hash (<name>-<hash>.<ext>), immutable' },
      { path: 'cdn-publish-report.json', action: 'ignore', reason: 'a publish report, not part of the site' },
      { path: 'img/hero.png', action: 'add', immutable: false, reason: 'written after the build, no content hash in its name, mutable' },
      { path: icon, action: 'fingerprint', immutable: true, reason: 'fingerprinted copy of favicon.ico' },
      { path: hero, action: 'fingerprint', immutable: true, reason: 'fingerprinted copy of img/hero.png' },
      { path: 'about/index.html', action: 'rewrite', reason: 'names the fingerprinted copies of favicon.ico, img/hero.png' },
    ])

    const m = final.manifest
    expect(Object.keys(m.files).sort()).toEqual(
      ['_app/version.json', 'about/index.html', 'assets/index-BxP3kQ9a.js', 'assets/manifest-0f3a9c1e.js', icon, 'favicon.ico', hero, 'img/hero.png', 'index.html'].sort(),
    )
    expect(m.entries).toEqual({ 'index.html': { file: 'assets/index-BxP3kQ9a.js', isEntry: true } })
    expect(m.aliases).toEqual({ 'favicon.ico': icon, 'img/hero.png': hero })
    expect(m.release).not.toBe('built-release-0001')
    expect(m.files[hero]).toEqual({ size: PNG.length, integrity: sri(PNG), contentType: 'image/png', immutable: true })

    const page = Buffer.from(final.writes.get('about/index.html')!).toString()
    expect(page).toBe(`<!doctype html><img src="/${hero}"><link rel="icon" href="/${icon}"><a href="/">home</a>`)
    expect(m.files['about/index.html']!.integrity).toBe(sri(page))
    expect([...final.writes.keys()]).toEqual([icon, hero, 'about/index.html', 'cdn-manifest.json'])
    expect(Buffer.from(final.writes.get('cdn-manifest.json')!).toString()).toBe(final.manifestText)
    // the pass itself writes nothing
    expect(readOutDir(dir)).toEqual(before)
  })

  test('once its writes are on disk, the pass finds nothing more to do', async () => {
    const dir = directory({ ...built, ...later, 'cdn-manifest.json': builtManifest(built, ['assets/index-BxP3kQ9a.js']) })
    const first = await finalDirectory(input(dir))
    for (const [rel, bytes] of first.writes) writeFileSync(path.join(dir, rel), bytes)
    const second = await finalDirectory(input(dir))
    expect(second.changes).toEqual([
      { path: 'cdn-publish-report.json', action: 'ignore', reason: 'a publish report, not part of the site' },
    ])
    expect(second.manifest).toEqual(first.manifest)
    expect([...second.writes.keys()]).toEqual([])
  })

  test('fingerprint.public false: late pages are published as written', async () => {
    const dir = directory({ ...built, ...later, 'cdn-manifest.json': builtManifest(built, []) })
    const final = await finalDirectory(input(dir, { fingerprintPublic: false }))
    expect(final.changes.map((c) => c.action)).not.toContain('fingerprint')
    expect(final.changes.map((c) => c.action)).not.toContain('rewrite')
    expect(final.manifest.aliases).toEqual({})
    expect([...final.writes.keys()]).toEqual(['cdn-manifest.json'])
  })

  test('precompressed copies an adapter wrote next to a file are left out; a .gz of its own is published', async () => {
    const dir = directory({ ...built, 'assets/index-BxP3kQ9a.js.br': 'br', 'assets/index-BxP3kQ9a.js.gz': 'gz', 'data/archive.tar.gz': 'tar', 'cdn-manifest.json': builtManifest(built, ['assets/index-BxP3kQ9a.js']) })
    const final = await finalDirectory(input(dir))
    expect(final.changes.filter((c) => c.action !== 'drop')).toEqual([
      { path: 'assets/index-BxP3kQ9a.js.br', action: 'ignore', reason: 'a precompressed copy of assets/index-BxP3kQ9a.js (a bucket serves one encoding per key: see publish.precompress)' },
      { path: 'assets/index-BxP3kQ9a.js.gz', action: 'ignore', reason: 'a precompressed copy of assets/index-BxP3kQ9a.js (a bucket serves one encoding per key: see publish.precompress)' },
      { path: 'data/archive.tar.gz', action: 'add', immutable: false, reason: 'written after the build, no content hash in its name, mutable' },
    ])
    expect(Object.keys(final.manifest.files).filter((f) => /\.(br|gz)$/.test(f))).toEqual(['data/archive.tar.gz'])
  })

  test('an empty directory, or one holding only build-internal files, is refused before anything is written', async () => {
    for (const files of [{}, { '.vite/manifest.json': '{}' }] as Record<string, string>[]) {
      const dir = directory(files)
      await expect(finalDirectory(input(dir))).rejects.toThrow(`${dir} holds nothing to publish`)
    }
  })

  test('an unchanged build directory keeps its manifest byte for byte', async () => {
    const files = { 'index.html': '<p>hi</p>', 'assets/a-BxP3kQ9a.js': '1' }
    const dir = directory(files)
    const first = await finalDirectory(input(dir))
    writeFileSync(path.join(dir, 'cdn-manifest.json'), first.manifestText)
    const again = await finalDirectory(input(dir))
    expect(again.built).toBe(true)
    expect(again.changes).toEqual([])
    expect(again.writes.size).toBe(0)
    expect(readFileSync(path.join(dir, 'cdn-manifest.json'), 'utf8')).toBe(again.manifestText)
  })
})

describe('a static directory with no manifest', () => {
  test('every file is added and classified, pages name fingerprinted copies, under the given base', async () => {
    const dir = directory({
      'index.html': '<html><head><style>body{background:url("/site/img/bg.png")}</style></head><body><img srcset="/site/img/a.png 1x, img/a.png 2x"><script src="/site/js/app.js"></script><img src="https://example.com/x.png"></body></html>',
      'img/bg.png': PNG,
      'img/a.png': 'a',
      'js/app.js': 'app()',
      'css/site.5f3c2a1b9e8d.css': 'body{}',
      '.vite/manifest.json': '{}',
    })
    const final = await finalDirectory(input(dir, { base: '/site/' }))
    const bg = `img/bg-${hash8(PNG)}.png`
    const a = `img/a-${hash8('a')}.png`
    const app = `js/app-${hash8('app()')}.js`
    expect(final.built).toBe(false)
    expect(final.changes).toEqual([
      { path: '.vite/manifest.json', action: 'ignore', reason: 'build-internal (.vite/), not served' },
      { path: 'css/site.5f3c2a1b9e8d.css', action: 'add', immutable: true, reason: 'found in the directory, name carries a content hash (<name>.<hash>.<ext>), immutable' },
      { path: 'img/a.png', action: 'add', immutable: false, reason: 'found in the directory, no content hash in its name, mutable' },
      { path: 'img/bg.png', action: 'add', immutable: false, reason: 'found in the directory, no content hash in its name, mutable' },
      { path: 'index.html', action: 'add', immutable: false, reason: 'page found in the directory, mutable' },
      { path: 'js/app.js', action: 'add', immutable: false, reason: 'found in the directory, no content hash in its name, mutable' },
      { path: a, action: 'fingerprint', immutable: true, reason: 'fingerprinted copy of img/a.png' },
      { path: bg, action: 'fingerprint', immutable: true, reason: 'fingerprinted copy of img/bg.png' },
      { path: app, action: 'fingerprint', immutable: true, reason: 'fingerprinted copy of js/app.js' },
      { path: 'index.html', action: 'rewrite', reason: 'names the fingerprinted copies of img/a.png, img/bg.png, js/app.js' },
    ])
    expect(Buffer.from(final.writes.get('index.html')!).toString()).toBe(
      `<html><head><style>body{background:url("/site/${bg}")}</style></head><body><img srcset="/site/${a} 1x, ./${a} 2x"><script src="/site/${app}"></script><img src="https://example.com/x.png"></body></html>`,
    )
    expect(final.manifest.base).toBe('/site/')
    expect(final.manifest.entries).toEqual({})
    expect(final.manifest.aliases).toEqual({ 'img/a.png': a, 'img/bg.png': bg, 'js/app.js': app })
    expect(Object.keys(final.manifest.files)).not.toContain('.vite/manifest.json')
  })

  test('a base that needs percent-encoding: pages name public files under either form of it', async () => {
    const dir = directory({
      'index.html': '<link rel="icon" href="/foo bar/img/a.png"><script src="/foo bar/js/app.js"></script><img srcset="/foo%20bar/img/a.png 2x" style="background:url(/foo%20bar/img/a.png)">',
      'img/a.png': 'a',
      'js/app.js': 'app()',
    })
    const final = await finalDirectory(input(dir, { base: '/foo%20bar/' }))
    const a = `img/a-${hash8('a')}.png`
    const app = `js/app-${hash8('app()')}.js`
    expect(final.changes.filter((c) => c.action === 'rewrite')).toEqual([
      { path: 'index.html', action: 'rewrite', reason: 'names the fingerprinted copies of img/a.png, js/app.js' },
    ])
    expect(Buffer.from(final.writes.get('index.html')!).toString()).toBe(
      `<link rel="icon" href="/foo%20bar/${a}"><script src="/foo%20bar/${app}"></script><img srcset="/foo%20bar/${a} 2x" style="background:url(/foo%20bar/${a})">`,
    )
  })

  test('a directory that cannot be read is an error naming it', async () => {
    const missing = path.join(repoRoot, 'test/.tmp/no-such-dir')
    await expect(finalDirectory(input(missing))).rejects.toThrow(`cannot read the directory to publish, ${missing}`)
  })
})
