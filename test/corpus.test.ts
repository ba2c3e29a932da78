/**
 * A regression corpus of the inputs real apps have, each app built twice by a real `vite build`:
 * without this plugin and with it. In both, every reference of every stylesheet and page resolves
 * to a file of the output; between them, only references to public files change (to a hashed
 * copy with the same bytes), and Vite warns about the same things. No output file, of any kind,
 * holds an internal token. On Vite 8, 7 and 6 (which Astro 5 brings), over several `base`s.
 *
 * The app: a public directory named `static/`; file names with spaces, `%`, quotes and non-ASCII;
 * `image-set()`; an `@import` chain; a CSS module; `?url`, `?raw` and `?inline` imports; fonts
 * with `?#iefix`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { findCssRefs, splitUrlSuffix } from '../src/build/css-urls.js'
import { decodeUrlPath } from '../src/build/names.js'
import { cdnPublish } from '../src/index.js'
import { fixtureCopies, loadVite, readOutDir, type Log } from './helpers/build.js'
import { expectNoInternalTokens } from './helpers/tokens.js'
import { stripVTControlCharacters } from 'node:util'

const fx = fixtureCopies()
afterAll(() => fx.cleanup())

const png = (name: string) => Buffer.from(`\x89PNG\r\n\x1a\n${name}`)

/** Public files, by path in `static/`. */
const PUBLIC = ['img/logo.png', 'img/with space.png', 'img/100%.png', "img/quo'te.png", 'img/ü-naïve.png', 'fonts/f.eot', 'fonts/f.woff2']

const APP: Record<string, string | Buffer> = {
  ...Object.fromEntries(PUBLIC.map((f) => [`static/${f}`, png(f)])),
  'src/img/local.png': png('local'),
  'src/img/local 2.png': png('local 2'),
  'index.html': [
    '<!doctype html><html><head>',
    '<link rel="icon" href="/img/logo.png">',
    '<script type="module" src="/src/main.js"></script>',
    '</head><body>',
    '<img src="/img/with%20space.png" alt="">',
    '<img srcset="/img/logo.png 1x, /img/ü-naïve.png 2x" alt="">',
    '<div style="background: url(/img/logo.png)"></div>',
    '</body></html>',
  ].join('\n'),
  'src/main.js': [
    `import './styles/a.css'`,
    `import card from './styles/card.module.css'`,
    `import localUrl from './img/local.png?url'`,
    `import raw from './styles/raw.css?raw'`,
    `import inline from './styles/inline.css?inline'`,
    `document.body.className = card.card`,
    `window.corpus = { localUrl, raw, inline }`,
  ].join('\n'),
  'src/styles/a.css': [
    `@import './b.css';`,
    `.a { background: url(/img/logo.png); }`,
    `.set { background-image: image-set('/img/logo.png' 1x, url("/img/with space.png") 2x); }`,
    `@font-face { font-family: f; src: url(/fonts/f.eot?#iefix) format('embedded-opentype'), url(/fonts/f.woff2) format('woff2'); }`,
    `.pct { background: url('/img/100%25.png'); }`,
    `.quote { background: url("/img/quo'te.png"); }`,
    `.utf { background: url(/img/ü-naïve.png); }`,
    `.local { background: url(../img/local.png); }`,
  ].join('\n'),
  'src/styles/b.css': `@import './c.css';\n.b { background: url(/img/logo.png); }\n`,
  'src/styles/c.css': `.c { background: url("../img/local 2.png"); }\n`,
  'src/styles/card.module.css': `.card { background: url(/img/with%20space.png); }\n`,
  'src/styles/raw.css': `.raw { background: url(/img/logo.png); }\n`,
  'src/styles/inline.css': `.inline { background: url(/img/logo.png); }\n`,
}

interface Build {
  files: Map<string, Buffer>
  warnings: Log[]
  viteWarnings: string[]
}

interface Variant {
  name: string
  base: string
  renderBuiltUrl?: (fileName: string) => string
  /** The output file a root-absolute or full URL names; undefined when it names none. */
  outputPath(url: string, host: string): string | undefined
}

const underPrefix = (prefix: string) => (url: string) => (url.startsWith(prefix) ? decodeUrlPath(url.slice(prefix.length)) : undefined)

const VARIANTS: Variant[] = [
  { name: "base '/'", base: '/', outputPath: underPrefix('/') },
  // Vite writes the base as given into pages, percent-encoded into stylesheets: browsers request both the same
  { name: "base '/foo bar/'", base: '/foo bar/', outputPath: (url) => underPrefix('/foo%20bar/')(url) ?? underPrefix('/foo bar/')(url) },
  { name: 'base a CDN URL', base: 'https://cdn.example.com/app/', outputPath: underPrefix('https://cdn.example.com/app/') },
  {
    name: "base './'",
    base: './',
    outputPath: (url, host) => (url.startsWith('/') || /^[a-z]+:/.test(url) ? undefined : path.posix.normalize(path.posix.join(path.posix.dirname(host), decodeUrlPath(url)))),
  },
  {
    name: 'renderBuiltUrl',
    base: '/',
    renderBuiltUrl: (fileName) => `https://assets.example.com/${fileName.replace(/^\//, "")}`,
    outputPath: (url) => underPrefix('https://assets.example.com/')(url) ?? underPrefix('/')(url),
  },
]

function writeApp(): string {
  const root = fx.temp('corpus')
  for (const [rel, content] of Object.entries(APP)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    writeFileSync(path.join(root, rel), content)
  }
  return root
}

async function build(vite: 'vite8' | 'vite7' | 'vite6', root: string, variant: Variant, withPlugin: boolean): Promise<Build> {
  const { build: viteBuild } = await loadVite(vite)
  const outDir = path.join(root, withPlugin ? 'dist-plugin' : 'dist-plain')
  const warnings: Log[] = []
  const viteWarnings: string[] = []
  const warn = (msg: string) => void viteWarnings.push(stripVTControlCharacters(msg).trim())
  await viteBuild({
    root,
    configFile: false,
    envDir: false,
    logLevel: 'silent',
    base: variant.base,
    publicDir: 'static',
    customLogger: { info() {}, warn, warnOnce: warn, error() {}, clearScreen() {}, hasErrorLogged: () => false, hasWarned: false } as never,
    plugins: withPlugin ? [cdnPublish()] : [],
    ...(variant.renderBuiltUrl ? { experimental: { renderBuiltUrl: variant.renderBuiltUrl } } : {}),
    build: {
      outDir,
      emptyOutDir: true,
      assetsInlineLimit: 0,
      rollupOptions: { onwarn: (w: unknown) => void warnings.push(w as Log) },
    },
  })
  return { files: readOutDir(outDir), warnings, viteWarnings }
}

/** The references of the output's stylesheets and pages, by file (name with its hash taken out) in order. */
function references(b: Build): Map<string, { host: string; urls: string[] }> {
  const out = new Map<string, { host: string; urls: string[] }>()
  for (const [host, bytes] of b.files) {
    const text = bytes.toString('utf8')
    let urls: string[]
    if (host.endsWith('.css')) urls = findCssRefs(text).map((r) => r.url)
    else if (host.endsWith('.html')) {
      urls = [...text.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1])
      for (const m of text.matchAll(/\ssrcset="([^"]+)"/g)) urls.push(...m[1].split(',').map((c) => c.trim().split(/\s+/)[0]))
      for (const m of text.matchAll(/style="([^"]+)"/g)) urls.push(...findCssRefs(m[1]).map((r) => r.url))
    } else continue
    out.set(withoutHash(host), { host, urls })
  }
  return out
}

const withoutHash = (fileName: string) => fileName.replace(/-[\w-]{8}(?=\.\w+$)/, '')
const isHashedCopy = (fileName: string, publicFile: string) => {
  const ext = path.posix.extname(publicFile)
  return new RegExp(`^${publicFile.slice(0, -ext.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[\\w-]{8}\\${ext}$`).test(fileName)
}

/** The output file a reference names, checked to exist. */
function resolve(b: Build, variant: Variant, host: string, url: string): string {
  const target = variant.outputPath(splitUrlSuffix(url).path, host)
  expect(target, `${url} in ${host} names an output file`).toBeDefined()
  expect(b.files.has(target!), `${url} in ${host}: ${target} in the output`).toBe(true)
  return target!
}

describe.each(['vite8', 'vite7', 'vite6'] as const)('%s', (vite) => {
  describe.each(VARIANTS)('$name', (variant) => {
    it('every reference resolves with and without the plugin; only public-file references change; Vite warns the same; no internal token', async () => {
      const root = writeApp()
      const plain = await build(vite, root, variant, false)
      const ours = await build(vite, root, variant, true)

      expect(ours.warnings).toEqual([])
      expect(plain.warnings).toEqual([])
      // Vite's own messages are the same: none of them names a placeholder
      expect(ours.viteWarnings.sort()).toEqual(plain.viteWarnings.sort())
      expectNoInternalTokens(ours)

      // per stylesheet and page, the files its references name (the minifier may merge rules
      // differently once URLs differ, so as sets): the same, except each public file is now its
      // hashed copy, with its bytes and the reference's query and fragment
      const before = references(plain)
      const after = references(ours)
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
      const named = (b: Build, host: string, urls: string[], fromPlugin: boolean) =>
        new Set(
          urls.map((url) => {
            if (/^(?:data:|#)/.test(url)) return url
            const target = resolve(b, variant, host, url)
            const { suffix } = splitUrlSuffix(url)
            if (!fromPlugin) return PUBLIC.includes(target) ? `public ${target}${suffix}` : withoutHash(target)
            const original = PUBLIC.find((p) => isHashedCopy(target, p))
            if (original === undefined) return withoutHash(target)
            expect(b.files.get(target)!.equals(plain.files.get(original)!), `${target} has the bytes of ${original}`).toBe(true)
            return `public ${original}${suffix}`
          }),
        )
      let publicRefs = 0
      for (const [key, { host, urls }] of before) {
        const was = named(plain, host, urls, false)
        expect(named(ours, after.get(key)!.host, after.get(key)!.urls, true), `the files ${key} names`).toEqual(was)
        publicRefs += [...was].filter((n) => n.startsWith('public ')).length
      }
      // the public references of the app, each seen above (the page's 3 files, the stylesheet's 7 names)
      expect(publicRefs).toBe(10)
      // a public file itself is named by no reference with this plugin (only its copies are)
      for (const { host, urls } of after.values()) for (const url of urls) expect(PUBLIC, `${url} in ${host}`).not.toContain(variant.outputPath(splitUrlSuffix(url).path, host))
      // ?raw is the file's bytes, as written
      const js = [...ours.files].filter(([f]) => f.endsWith('.js')).map(([, b]) => b.toString('utf8')).join('\n')
      expect(js).toContain('.raw { background: url(/img/logo.png); }')
      // ?inline CSS is a string in a script, its public file fingerprinted like any stylesheet's
      expect(js).toMatch(/\.inline\s*\{\s*background:\s*url\([^}]*img\/logo-[\w-]{8}\.png/)
    })
  })
})

describe.each(['vite8', 'vite7', 'vite6'] as const)('%s: references kept as written', (vite) => {
  it('?inline CSS naming only a query, or a file outside server.fs.allow: reported, written back as they were, no placeholder in any output file', async () => {
    const dir = fx.temp('kept')
    const root = path.join(dir, 'app')
    const files: Record<string, string | Buffer> = {
      'outside.png': png('outside'),
      'app/index.html': '<!doctype html><script type="module" src="/src/main.js"></script>\n',
      'app/src/main.js': `import inline from './inline.css?inline'\nimport './page.css'\nwindow.inline = inline\n`,
      'app/src/inline.css': `.self { background: url(?v=1); }\n.out { background: url("../../outside.png"); }\n`,
      'app/src/page.css': `.page { background: url(../../outside.png); }\n`,
    }
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
      writeFileSync(path.join(dir, rel), content)
    }
    const { build: viteBuild } = await loadVite(vite)
    const warnings: Log[] = []
    const outDir = path.join(root, 'dist')
    await viteBuild({
      root,
      configFile: false,
      envDir: false,
      logLevel: 'silent',
      server: { fs: { allow: [root] } },
      plugins: [cdnPublish()],
      build: { outDir, assetsInlineLimit: 0, rollupOptions: { onwarn: (w: unknown) => void warnings.push(w as Log) } },
    })
    expect(warnings.map((w) => [w.pluginCode ?? w.code, String(w.message).replace(/^.*?(src\/\w+\.css:)/, '$1').replace(/ The reference .*$/, '')]).sort()).toEqual([
      ['CSS_URL_UNRESOLVED', `src/inline.css:1:25: url(?v=1) names only a query, which means the stylesheet itself.`],
      ['CSS_URL_UNRESOLVED', `src/inline.css:2:24: url(../../outside.png) resolves to ${path.join(dir, 'outside.png')}, outside the project (Vite's server.fs.allow), and is not copied into the output.`],
      ['CSS_URL_UNRESOLVED', `src/page.css:1:25: url(../../outside.png) resolves to ${path.join(dir, 'outside.png')}, outside the project (Vite's server.fs.allow), and is not copied into the output.`],
    ])
    const out = readOutDir(outDir)
    expectNoInternalTokens({ files: out })
    // nothing of the build machine copied in
    expect([...out.keys()].filter((f) => f.includes('outside'))).toEqual([])
    const js = [...out].filter(([f]) => f.endsWith('.js')).map(([, b]) => b.toString('utf8')).join('\n')
    expect(js).toMatch(/url\(\?v=1\)/)
    expect(js).toMatch(/url\((["']?)\.\.\/\.\.\/outside\.png\1\)/)
    const css = [...out].filter(([f]) => f.endsWith('.css')).map(([, b]) => b.toString('utf8')).join('\n')
    expect(css).toContain('url(../../outside.png)')
  })
})
