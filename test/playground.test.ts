/**
 * playground/basic, built as it is (its own vite.config.ts, the plugin with its defaults) by real
 * Vite 8 and Vite 7: the manifest lists every output file, every CSS `url()` and every resource
 * the page names is a fingerprinted file of the output, the navigation link and the other site's
 * image stay as written, and the build warns about nothing.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { findCssRefs, isExternalOrSpecialUrl, splitUrlSuffix } from '../src/build/css-urls.js'
import { fixtureCopies, listFiles, repoRoot, viteBuildProject, vites, expectWarnings, type BuildResult } from './helpers/build.js'
import { sri } from './helpers/digest.js'
import { withEnv } from './helpers/s3.js'

const PLAYGROUND = path.join(repoRoot, 'playground/basic')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

/** A content hash in a file name, as Vite and the plugin write it: `<name>-<8 characters>.<ext>`. */
const HASHED = /-[\w-]{8}\.[a-z\d]+$/i
const names = (r: BuildResult) => [...r.files.keys()].filter((f) => f !== 'cdn-manifest.json').sort()

describe.each(vites)('playground/basic with %s', (vite) => {
  let r: BuildResult
  it('builds with its own config and warns about nothing', async () => {
    const sources = listFiles(PLAYGROUND, ['dist', 'node_modules'])
    // no bucket in the environment: the build does not publish
    r = await withEnv({}, () => viteBuildProject(vite, PLAYGROUND, fx.temp(`playground-${vite}`)))
    expectWarnings(r, { codes: [], vite: [] })
    // built in place: the playground itself is left as it was
    expect(listFiles(PLAYGROUND, ['dist', 'node_modules'])).toEqual(sources)
  })

  it('the manifest names every output file, with its size and integrity', () => {
    const m = r.manifest!
    expect(Object.keys(m.files).sort()).toEqual(names(r))
    for (const [file, info] of Object.entries(m.files)) {
      expect(info.size, file).toBe(r.files.get(file)!.length)
      expect(info.integrity, file).toBe(sri(r.files.get(file)!))
      expect(info.immutable, file).toBe(HASHED.test(file))
    }
    // every public file is there under its own name, and the ones the site names have a fingerprinted copy
    for (const p of listFiles(path.join(PLAYGROUND, 'public'))) {
      expect(r.files.get(p)?.equals(readFileSync(path.join(PLAYGROUND, 'public', p))), p).toBe(true)
    }
    expect(Object.keys(m.aliases).sort()).toEqual([
      'favicon.svg',
      'fonts/playground.woff',
      'fonts/playground.woff2',
      'img/badge.svg',
      'img/banner-narrow.png',
      'img/banner-wide.png',
      'img/bg.png',
      'img/bg@2x.png',
      'img/hero.jpg',
      'img/photo.png',
      'img/photo@2x.png',
    ])
    for (const [plain, hashed] of Object.entries(m.aliases)) {
      expect(hashed, plain).toMatch(HASHED)
      expect(r.files.get(hashed)!.equals(r.files.get(plain)!), `${hashed} is a copy of ${plain}`).toBe(true)
    }
    expect(Object.keys(m.entries).sort()).toEqual(['index.html', 'src/img/local.png', 'src/routes/lazy.ts'])
    expect(m.entries['src/img/local.png'].file).toBe(r.find(/^assets\/local-[\w-]{8}\.png$/))
    expect(m.entries['src/routes/lazy.ts'].css).toEqual([r.find(/^assets\/lazy-[\w-]{8}\.css$/)])
  })

  it('every url() of every stylesheet names a fingerprinted output file', () => {
    const stylesheets = names(r).filter((f) => f.endsWith('.css'))
    expect(stylesheets).toHaveLength(2)
    const named: string[] = []
    for (const css of stylesheets) {
      for (const ref of findCssRefs(r.text(css))) {
        expect(isExternalOrSpecialUrl(ref.url), `${css}: ${ref.url}`).toBe(false)
        expect(ref.url, `${css}: root-absolute`).toMatch(/^\//)
        const file = decodeURIComponent(splitUrlSuffix(ref.url).path).slice(1)
        expect(r.files.has(file), `${css}: ${ref.url} is an output file`).toBe(true)
        expect(file, `${css}: ${ref.url}`).toMatch(HASHED)
        named.push(file.replace(/-[\w-]{8}(\.[a-z\d]+)$/i, '$1'))
      }
    }
    // fonts, image-set (Vite 8 adds a url() fallback before it), the hero, the uppercase URL() of
    // a source image, the lazy route's badge
    expect([...new Set(named)].sort()).toEqual([
      'assets/local.png',
      'fonts/playground.woff',
      'fonts/playground.woff2',
      'img/badge.svg',
      'img/bg.png',
      'img/bg@2x.png',
      'img/hero.jpg',
    ])
    expect(stylesheets.map((f) => r.text(f)).join('\n')).not.toMatch(/URL\(/)
  })

  it('the page names the fingerprinted files; the navigation link and the other site’s image stay', () => {
    const html = r.text('index.html')
    const m = r.manifest!
    expect(html).toContain(`<link rel="icon" href="/${m.aliases['favicon.svg']}"`)
    expect(html).toContain(`srcset="/${m.aliases['img/photo.png']} 1x, /${m.aliases['img/photo@2x.png']} 2x"`)
    expect(html).toContain(`srcset="/${m.aliases['img/banner-wide.png']}"`)
    expect(html).toContain(`src="/${m.aliases['img/banner-narrow.png']}"`)
    expect(html).toContain('<a href="/downloads/release-notes.txt">')
    expect(html).toContain('content="https://example.com/img/og.png"')
    expect(html).toContain(`src="/${m.entries['index.html'].file}"`)
  })
})
