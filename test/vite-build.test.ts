import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildError, fixtureCopies, viteBuild, vites, viteUnresolved, VITE_WARNS_STRING_URL, expectWarnings, type BuildResult } from './helpers/build.js'
import { sha256hex as sha, sri } from './helpers/digest.js'

const fx = fixtureCopies()
afterAll(() => fx.cleanup())
const fixture = () => fx.copy()
/** What every build of the unchanged basic fixture warns about: nothing of this plugin's, one of Vite's own. */
const CLEAN = { codes: [], vite: [VITE_WARNS_STRING_URL] }
const names = (r: BuildResult) => [...r.files.keys()].filter((f) => f !== 'cdn-manifest.json').sort()

describe.each(vites)('%s', (vite) => {
  describe('basic app', () => {
    let root: string
    let r: BuildResult
    it('builds', async () => {
      root = fixture()
      r = await viteBuild(vite, root)
      expect(r.files.has('index.html')).toBe(true)
      expectWarnings(r, CLEAN)
    })

    it('fingerprints public files referenced from CSS and keeps the plain copies', () => {
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      const hero = r.find(/^img\/hero-[\w-]{8}\.png$/)
      const font = r.find(/^fonts\/fixture-[\w-]{8}\.woff2$/)
      expect(sha(r.files.get(logo)!)).toBe(sha(readFileSync(path.join(root, 'public/img/logo.png'))))
      expect(sha(r.files.get(hero)!)).toBe(sha(readFileSync(path.join(root, 'public/img/hero.png'))))
      expect(r.files.get(font)!.equals(readFileSync(path.join(root, 'public/fonts/fixture.woff2')))).toBe(true)
      expect(r.files.has('img/logo.png')).toBe(true)
      expect(r.files.has('robots.txt')).toBe(true)

      const css = r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))
      expect(css).toContain(`url(/${logo})`)
      expect(css).not.toMatch(/url\(\/img\/logo\.png\)/)
      // image-set strings (Vite 8 writes them bare, Vite 7 keeps them)
      expect(css).toContain(`/${hero}`)
      // ?query#fragment suffix of a font src list is kept
      expect(css).toContain(`/${font}?v=1#iefix`)
      // comments and strings that merely contain url( are untouched; so are data: and remote URLs
      expect(css).not.toContain('commented-')
      expect(css).toContain('url(/img/not-a-ref.png)')
      expect(css).toContain('https://example.com/remote.png')
      expect(css).toMatch(/data:image\/svg\+xml/)
    })

    it('rewrites uppercase URL() that Vite would leave broken', () => {
      const css = r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))
      const bg = r.find(/^assets\/bg-[\w-]{8}\.png$/)
      expect(css).toContain(`url(/${bg})`)
      expect(css).not.toMatch(/URL\(/)
    })

    it('rewrites resources in HTML, not navigation links or other sites', () => {
      const html = r.text('index.html')
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      const hero = r.find(/^img\/hero-[\w-]{8}\.png$/)
      expect(html).toContain(`<link rel="icon" href="/${logo}"`)
      expect(html).toContain(`src="/${logo}" srcset="/${logo} 1x, /${hero} 2x"`)
      expect(html).toContain('<a id="direct" href="/img/logo.png">')
      expect(html).toContain('content="https://example.com/img/logo.png"')
      expect(html).toContain(`style="background: url(/${hero})"`)
    })

    it('writes a complete, consistent manifest', () => {
      const m = r.manifest!
      expect(m.version).toBe(1)
      expect(m.base).toBe('/')
      expect(m.release).toMatch(/^[0-9a-f]{16}$/)
      expect(Object.keys(m.files).sort()).toEqual(names(r))
      for (const [file, info] of Object.entries(m.files)) {
        const bytes = r.files.get(file)!
        expect(info.size, file).toBe(bytes.length)
        expect(info.integrity, file).toBe(sri(bytes))
      }
      expect(m.files['index.html']).toMatchObject({ immutable: false, contentType: 'text/html; charset=utf-8' })
      expect(m.files['img/logo.png'].immutable).toBe(false)
      expect(m.files['robots.txt'].immutable).toBe(false)
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      expect(m.files[logo]).toMatchObject({ immutable: true, contentType: 'image/png' })
      expect(m.files[r.find(/^assets\/index-[\w-]{8}\.js$/)]).toMatchObject({ immutable: true, contentType: 'text/javascript; charset=utf-8' })
      expect(m.aliases['img/logo.png']).toBe(logo)
      expect(m.aliases['fonts/fixture.woff2']).toBe(r.find(/^fonts\/fixture-[\w-]{8}\.woff2$/))

      const entry = m.entries['index.html']
      expect(entry).toMatchObject({ isEntry: true, src: 'index.html' })
      expect(entry.file).toBe(r.find(/^assets\/index-[\w-]{8}\.js$/))
      expect(entry.css).toEqual([r.find(/^assets\/index-[\w-]{8}\.css$/)])
      expect(entry.dynamicImports).toEqual(['src/lazy.js'])
      const lazy = m.entries['src/lazy.js']
      expect(lazy.file).toBe(r.find(/^assets\/lazy-[\w-]{8}\.js$/))
      expect(lazy.css).toEqual([r.find(/^assets\/lazy-[\w-]{8}\.css$/)])
      for (const e of Object.values(m.entries)) for (const k of [...(e.imports ?? []), ...(e.dynamicImports ?? [])]) expect(m.entries[k], k).toBeDefined()
    })

    it('identical input gives identical names and a byte-identical manifest', async () => {
      const again = await viteBuild(vite, root)
      expect(names(again)).toEqual(names(r))
      expect(again.files.get('cdn-manifest.json')!.equals(r.files.get('cdn-manifest.json')!)).toBe(true)
      expectWarnings(again, CLEAN)
    })

    it('propagates a changed public image to the stylesheet, the chunks and the HTML; nothing else changes', async () => {
      const before = r
      writeFileSync(path.join(root, 'public/img/hero.png'), Buffer.concat([readFileSync(path.join(root, 'public/img/hero.png')), Buffer.from('changed')]))
      const after = await viteBuild(vite, root)
      expectWarnings(after, CLEAN)
      const changed = (re: RegExp) => before.find(re) !== after.find(re)
      expect(changed(/^img\/hero-[\w-]{8}\.png$/)).toBe(true)
      expect(changed(/^assets\/lazy-[\w-]{8}\.css$/)).toBe(true)
      expect(changed(/^assets\/index-[\w-]{8}\.css$/)).toBe(true) // image-set names hero too
      expect(changed(/^assets\/lazy-[\w-]{8}\.js$/)).toBe(true) // names lazy.css
      expect(changed(/^assets\/index-[\w-]{8}\.js$/)).toBe(true) // names lazy.js and index.css
      expect(changed(/^img\/logo-[\w-]{8}\.png$/)).toBe(false)
      expect(changed(/^fonts\/fixture-[\w-]{8}\.woff2$/)).toBe(false)
      expect(changed(/^assets\/bg-[\w-]{8}\.png$/)).toBe(false)
      expect(after.text('index.html')).toContain(after.find(/^assets\/index-[\w-]{8}\.js$/))
      expect(after.manifest!.release).not.toBe(before.manifest!.release)
    })

    it('a change to an image only one stylesheet names leaves the other stylesheet alone', async () => {
      const before = await viteBuild(vite, root)
      writeFileSync(path.join(root, 'public/fonts/fixture.woff2'), 'wOF2 changed font')
      const after = await viteBuild(vite, root)
      expectWarnings(before, CLEAN)
      expectWarnings(after, CLEAN)
      expect(after.find(/^assets\/index-[\w-]{8}\.css$/)).not.toBe(before.find(/^assets\/index-[\w-]{8}\.css$/))
      expect(after.find(/^assets\/lazy-[\w-]{8}\.css$/)).toBe(before.find(/^assets\/lazy-[\w-]{8}\.css$/))
      expect(after.find(/^assets\/lazy-[\w-]{8}\.js$/)).toBe(before.find(/^assets\/lazy-[\w-]{8}\.js$/))
    })
  })

  describe('base and renderBuiltUrl', () => {
    it.each([
      ['/sub/', (f: string) => `/sub/${f}`],
      ['https://cdn.example.com/app/', (f: string) => `https://cdn.example.com/app/${f}`],
    ])('base %s', async (base, url) => {
      const r = await viteBuild(vite, fixture(), {}, { base })
      expectWarnings(r, CLEAN)
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      expect(r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))).toContain(`url(${url(logo)})`)
      expect(r.text('index.html')).toContain(`<link rel="icon" href="${url(logo)}"`)
      expect(r.manifest!.base).toBe(base)
    })

    it.each([
      ['/foo bar/', '/foo%20bar/'],
      ['/ü/', '/%C3%BC/'],
    ])('base %s, which Vite writes decoded into src and href, encoded elsewhere: every public reference of the page', async (base, encoded) => {
      const root = fixture()
      writeFileSync(path.join(root, 'public/legacy.js'), 'console.log("legacy")\n')
      writeFileSync(
        path.join(root, 'index.html'),
        `<!doctype html>
<html>
  <head>
    <link rel="icon" href="/img/logo.png">
    <script src="/legacy.js"></script>
    <style>b { background: url(/img/hero.png) }</style>
  </head>
  <body>
    <img src="/img/logo.png" srcset="/img/logo.png 1x, /img/hero.png 2x">
    <div style="background: url(/img/hero.png)"></div>
    <script type="module" src="/src/main.js"></script>
  </body>
</html>
`,
      )
      const r = await viteBuild(vite, root, {}, { base })
      expectWarnings(r, CLEAN)
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      const hero = r.find(/^img\/hero-[\w-]{8}\.png$/)
      const legacy = r.find(/^legacy-[\w-]{8}\.js$/)
      expect(r.text(legacy)).toBe('console.log("legacy")\n')
      const html = r.text('index.html')
      expect(html).toContain(`<link rel="icon" href="${encoded}${logo}">`)
      expect(html).toContain(`<script src="${encoded}${legacy}"></script>`)
      // Vite 8 minifies the <style> element
      expect(/<style>([^<]*)<\/style>/.exec(html)?.[1].replace(/\s/g, '')).toBe(`b{background:url(${encoded}${hero})}`)
      expect(html).toContain(`<img src="${encoded}${logo}" srcset="${encoded}${logo} 1x, ${encoded}${hero} 2x">`)
      expect(html).toContain(`<div style="background: url(${encoded}${hero})"></div>`)
      // no public file is named unhashed, under either form of the base
      expect(html).not.toMatch(/img\/(logo|hero)\.png|\/legacy\.js/)
    })

    it('relative base ./', async () => {
      const r = await viteBuild(vite, fixture(), {}, { base: './' })
      expectWarnings(r, CLEAN)
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      expect(r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))).toContain(`url(../${logo})`)
      expect(r.text('index.html')).toContain(`<link rel="icon" href="./${logo}"`)
    })

    it('experimental.renderBuiltUrl decides the URL of fingerprinted files as it does for Vite assets', async () => {
      const r = await viteBuild(vite, fixture(), {}, {
        experimental: {
          renderBuiltUrl: (fileName: string, { hostType }: { hostType: string }) => `https://${hostType}.cdn.test/${fileName}`,
        },
      })
      expectWarnings(r, CLEAN)
      const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
      expect(r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))).toContain(`url(https://css.cdn.test/${logo})`)
      expect(r.text('index.html')).toContain(`href="https://html.cdn.test/${logo}"`)
    })
  })

  it('names that need quoting go through the output pass and still propagate to chunks and the page', async () => {
    const root = fixture()
    writeFileSync(path.join(root, 'public/img/my logo.png'), 'a public file with a space in its name')
    writeFileSync(path.join(root, 'src/lazy.css'), '.lazy { background: url("/img/my logo.png"); }\n')
    const a = await viteBuild(vite, root, {}, { build: { manifest: true } })
    expectWarnings(a, CLEAN)
    // Vite's own manifest names the renamed files too
    const viteManifest = JSON.parse(a.text('.vite/manifest.json')) as Record<string, { file: string; css?: string[] }>
    for (const e of Object.values(viteManifest)) for (const f of [e.file, ...(e.css ?? [])]) expect(a.files.has(f), f).toBe(true)
    const spaced = a.find(/^img\/my logo-[\w-]{8}\.png$/)
    const lazyCss = a.find(/^assets\/lazy-[\w-]{8}\.css$/)
    expect(a.text(lazyCss)).toMatch(new RegExp(`url\\("?/${spaced.replace(" ", "%20")}"?\\)`))
    const lazyJs = a.find(/^assets\/lazy-[\w-]{8}\.js$/)
    const entry = a.find(/^assets\/index-[\w-]{8}\.js$/)
    // Vite lists a lazy chunk's stylesheet among the preloads of the chunk that imports it
    expect(a.text(entry)).toContain(path.posix.basename(lazyCss))
    expect(a.text(entry)).toContain(path.posix.basename(lazyJs))
    expect(a.manifest!.entries['src/lazy.js'].css).toEqual([lazyCss])
    expect(a.text('index.html')).toContain(`/${entry}`)
    // every file the manifest names is there, and nothing else is
    expect(Object.keys(a.manifest!.files).sort()).toEqual(names(a))
    expect(a.manifest!.entries['index.html'].file).toBe(entry)

    writeFileSync(path.join(root, 'public/img/my logo.png'), 'changed bytes')
    const b = await viteBuild(vite, root)
    expectWarnings(b, CLEAN)
    expect(b.find(/^assets\/lazy-[\w-]{8}\.css$/)).not.toBe(lazyCss)
    // the lazy chunk's bytes do not name its stylesheet, so its URL may stay; the importer's must change
    expect(b.find(/^assets\/index-[\w-]{8}\.js$/)).not.toBe(entry)
    expect(b.text(b.find(/^assets\/index-[\w-]{8}\.js$/))).toContain(path.posix.basename(b.find(/^assets\/lazy-[\w-]{8}\.css$/)))
    expect(b.find(/^assets\/index-[\w-]{8}\.css$/)).toBe(a.find(/^assets\/index-[\w-]{8}\.css$/))
    const again = await viteBuild(vite, root)
    expectWarnings(again, CLEAN)
    expect(names(again)).toEqual(names(b))
  })

  it('fingerprint.public: false leaves public references alone', async () => {
    const r = await viteBuild(vite, fixture(), { fingerprint: { public: false } })
    expectWarnings(r, CLEAN)
    expect([...r.files.keys()].filter((f) => /^img\/logo-/.test(f))).toEqual([])
    expect(r.text(r.find(/^assets\/index-[\w-]{8}\.css$/))).toContain('url(/img/logo.png)')
    expect(r.text('index.html')).toContain('<link rel="icon" href="/img/logo.png"')
    expect(r.manifest!.aliases).toEqual({})
  })

  it('manifest option renames the manifest; false writes none', async () => {
    const root = fixture()
    const named = await viteBuild(vite, root, { manifest: 'deploy/assets.json' })
    expect(named.files.has('deploy/assets.json')).toBe(true)
    expect(named.files.has('cdn-manifest.json')).toBe(false)
    expectWarnings(named, CLEAN)
    const none = await viteBuild(vite, root, { manifest: false })
    expectWarnings(none, CLEAN)
    expect([...none.files.keys()].filter((f) => f.endsWith('.json'))).toEqual([])
  })

  it('SSR builds add nothing and write no manifest', async () => {
    const root = fixture()
    writeFileSync(path.join(root, 'src/server.js'), "import './style.css'\nexport const render = () => 'ok'\n")
    const r = await viteBuild(vite, root, {}, { build: { ssr: 'src/server.js' } })
    expectWarnings(r, CLEAN)
    expect(r.manifest).toBeUndefined()
    expect([...r.files.keys()].filter((f) => /-[\w-]{8}\.(png|woff2)$/.test(f) && /^(img|fonts)\//.test(f))).toEqual([])
  })

  it('CSS_URL_UNRESOLVED names file:line:col, leaves the reference, and strict fails the build', async () => {
    const root = fixture()
    writeFileSync(path.join(root, 'src/lazy.css'), '.lazy {\n  color: red;\n  background: url(/img/missing.png);\n}\n')
    const r = await viteBuild(vite, root)
    // Vite warns about the missing file too, in its own words
    expectWarnings(r, { codes: ['CSS_URL_UNRESOLVED'], vite: [VITE_WARNS_STRING_URL, viteUnresolved('/img/missing.png')] })
    const w = r.warnings
    expect(w[0].message).toContain('src/lazy.css:3:19')
    expect(w[0].message).toContain('/img/missing.png')
    expect(r.text(r.find(/^assets\/lazy-[\w-]{8}\.css$/))).toContain('/img/missing.png')
    const err = await buildError(viteBuild(vite, root, { strict: true }))
    expect(err).toMatchObject({ pluginCode: 'CSS_URL_UNRESOLVED', message: expect.stringContaining('src/lazy.css:3:19') })
  })

  it('UNHASHED_OUTPUT names files without a content hash and marks them mutable', async () => {
    const emitSw = {
      name: 'emit-sw',
      generateBundle(this: { emitFile: (f: object) => void }) {
        this.emitFile({ type: 'asset', fileName: 'sw.js', source: 'self.addEventListener("fetch", () => {})' })
      },
    }
    const r = await viteBuild(vite, fixture(), {}, {
      plugins: [emitSw],
      build: { rollupOptions: { output: { entryFileNames: '[name].js' } } },
    })
    expectWarnings(r, { codes: ['UNHASHED_OUTPUT'], vite: [VITE_WARNS_STRING_URL] })
    const w = r.warnings
    expect(w[0].files).toEqual(['index.js', 'sw.js'])
    expect(r.manifest!.files['index.js'].immutable).toBe(false)
    expect(r.manifest!.files['sw.js'].immutable).toBe(false)
    expect(r.manifest!.files[r.find(/^assets\/lazy-[\w-]{8}\.js$/)].immutable).toBe(true)
  })

  it('invalid options fail the build with INVALID_OPTION naming the option', async () => {
    expect(await buildError(viteBuild(vite, fixture(), { manifest: '../x.json' }))).toMatchObject({
      pluginCode: 'INVALID_OPTION',
      message: expect.stringContaining('`manifest`'),
    })
  })
})
