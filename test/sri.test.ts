/**
 * `sri: true`: the scripts, stylesheets and module preloads of the published pages carry the
 * integrity the manifest lists for the file they name, after every rename; files without a hash
 * in their name, other sites and other elements get none. Real `vite build`s; the late page goes
 * through the deploy core's directory pass as a framework's page would.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { findHtmlRefs } from '../src/build/html-refs.js'
import { finalDirectory } from '../src/deploy/directory.js'
import { codes, fixtureCopies, viteBuild, vites, type BuildResult } from './helpers/build.js'
import { sri } from './helpers/digest.js'

const fx = fixtureCopies()
afterAll(() => fx.cleanup())

/** Two pages sharing a module (a chunk Vite preloads), a stylesheet, a public classic script. */
function app(): string {
  const root = fx.temp('sri-app')
  const page = (name: string) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <link rel="icon" href="/favicon.ico" />
    <script src="/legacy.js"></script>
    <script src="https://cdn.example.com/widget.js"></script>
    <title>${name}</title>
  </head>
  <body>
    <p id="out"></p>
    <script type="module" src="/src/${name}.js"></script>
  </body>
</html>
`
  const files: Record<string, string> = {
    'index.html': page('main'),
    'about.html': page('about'),
    'src/main.js': "import './style.css'\nimport { greet } from './shared.js'\ndocument.querySelector('#out').textContent = greet('main')\n",
    'src/about.js': "import './about.css'\nimport { greet } from './shared.js'\ndocument.querySelector('#out').textContent = greet('about')\n",
    'src/shared.js': 'export const greet = (who) => `hello ${who} ${Date.now() > 0}`\n',
    'src/style.css': 'body { background: url(/img/bg.png) }\n',
    'src/about.css': 'p { color: teal }\n',
    'public/legacy.js': 'window.legacy = true\n',
    'public/favicon.ico': 'icon',
    'public/img/bg.png': 'png bytes',
  }
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    writeFileSync(path.join(root, rel), text)
  }
  return root
}

const multiPage = (root: string) => ({ build: { rollupOptions: { input: { index: path.join(root, 'index.html'), about: path.join(root, 'about.html') } } } })

/** The script/stylesheet/preload elements of a page: the URL, and the integrity and crossorigin written. */
function loaded(html: string): { tag: string; url: string; integrity?: string; crossorigin: boolean }[] {
  const out = []
  for (const m of html.matchAll(/<(script|link)\b([^>]*)>/g)) {
    const attrs = m[2]
    const url = /\b(?:src|href)="([^"]*)"/.exec(attrs)?.[1]
    if (!url || (m[1] === 'link' && !/rel="(?:stylesheet|modulepreload)"/.test(attrs))) continue
    const integrity = /\bintegrity="([^"]*)"/.exec(attrs)?.[1]
    out.push({ tag: m[1], url, ...(integrity ? { integrity } : {}), crossorigin: /\bcrossorigin\b/.test(attrs) })
  }
  return out
}

/** Each element of the page names a file of the build, with the manifest's integrity, which is the digest of its bytes. */
function expectIntegrity(r: BuildResult, page: string) {
  const m = r.manifest!
  const els = loaded(r.text(page))
  const ours = els.filter((e) => e.url.startsWith('/'))
  expect(ours.map((e) => e.tag).sort()).toEqual(['link', 'link', 'script', 'script'])
  for (const e of ours) {
    const file = e.url.slice(1)
    expect(m.files[file]?.immutable, `${file} is a hashed file of the build`).toBe(true)
    expect(e.integrity, `${page}: ${e.url}`).toBe(m.files[file].integrity)
    expect(e.integrity).toBe(sri(r.files.get(file)!))
    expect(e.crossorigin).toBe(true)
  }
  // another site's script is left as written
  expect(els.filter((e) => !e.url.startsWith('/'))).toEqual([{ tag: 'script', url: 'https://cdn.example.com/widget.js', crossorigin: false }])
  // the page's own integrity in the manifest is of the page as written
  expect(m.files[page].integrity).toBe(sri(r.files.get(page)!))
}

describe.each(vites)('sri with %s', (vite) => {
  test('every script, stylesheet and module preload of both pages carries the manifest integrity of its file', async () => {
    const root = app()
    const r = await viteBuild(vite, root, { sri: true }, multiPage(root))
    expect(codes(r)).toEqual([])
    for (const page of ['index.html', 'about.html']) expectIntegrity(r, page)
    // the public classic script is named by its fingerprinted copy, and the icon got no integrity
    const index = r.text('index.html')
    expect(index).toMatch(/<script src="\/legacy-[\w-]{8}\.js" integrity="sha384-[\w+/=]+" crossorigin><\/script>/)
    expect(index).toMatch(/<link rel="icon" href="\/favicon-[\w-]{8}\.ico" \/>/)
  })

  test('after a rename: an image changed by the stylesheet gives the page the new stylesheet and its integrity', async () => {
    const root = app()
    const r1 = await viteBuild(vite, root, { sri: true }, multiPage(root))
    writeFileSync(path.join(root, 'public/img/bg.png'), 'other png bytes')
    const r2 = await viteBuild(vite, root, { sri: true }, multiPage(root))
    const css = (r: BuildResult) => loaded(r.text('index.html')).find((e) => e.url.endsWith('.css'))!
    expect(css(r2).url).not.toBe(css(r1).url)
    expect(css(r2).integrity).not.toBe(css(r1).integrity)
    expectIntegrity(r2, 'index.html')
  })

  test('without sri, the pages are as before: no integrity attribute', async () => {
    const root = app()
    const r = await viteBuild(vite, root, {}, multiPage(root))
    expect(r.text('index.html')).not.toContain('integrity=')
  })
})

test('fingerprint.public false: the public script keeps its unhashed name and gets no integrity (its bytes can change under its URL)', async () => {
  const root = app()
  const r = await viteBuild('vite8', root, { sri: true, fingerprint: { public: false } }, multiPage(root))
  const els = loaded(r.text('index.html'))
  expect(els.find((e) => e.url === '/legacy.js')).toEqual({ tag: 'script', url: '/legacy.js', crossorigin: false })
  expect(els.filter((e) => e.integrity).length).toBe(3)
})

test('a page written after the build (as a framework writes one) gets the integrity of the hashed files it names in the directory pass', async () => {
  const root = app()
  const r = await viteBuild('vite8', root, { sri: true }, multiPage(root))
  const js = r.find(/^assets\/shared-[\w-]{8}\.js$/)
  const css = r.find(/^assets\/index-[\w-]{8}\.css$/)
  const late = `<!doctype html><html><head>
<link rel="modulepreload" href="/${js}">
<link rel=stylesheet href="../${css}">
<link rel="stylesheet" href="/legacy.js" integrity="sha384-stale">
<script type="module" src="/${js}" crossorigin="use-credentials"></script>
</head><body><template><script src="/${js}"></script></template></body></html>
`
  mkdirSync(path.join(r.outDir, 'blog'), { recursive: true })
  writeFileSync(path.join(r.outDir, 'blog/post.html'), late)
  const final = await finalDirectory({ dir: r.outDir, manifest: 'cdn-manifest.json', fingerprintPublic: true, hashLength: 8, sri: true })
  const written = Buffer.from(final.writes.get('blog/post.html')!).toString('utf8')
  const legacy = Object.keys(final.manifest.files).find((f) => /^legacy-[\w-]{8}\.js$/.test(f))!
  const want = (f: string) => r.manifest!.files[f]?.integrity ?? final.manifest.files[f].integrity
  expect(written).toBe(`<!doctype html><html><head>
<link rel="modulepreload" href="/${js}" integrity="${want(js)}" crossorigin>
<link rel=stylesheet href="../${css}" integrity="${want(css)}" crossorigin>
<link rel="stylesheet" href="/${legacy}" integrity="${want(legacy)}" crossorigin>
<script type="module" src="/${js}" crossorigin="use-credentials" integrity="${want(js)}"></script>
</head><body><template><script src="/${js}"></script></template></body></html>
`)
  expect(final.manifest.files['blog/post.html'].integrity).toBe(sri(written))
  expect(final.changes.find((c) => c.path === 'blog/post.html' && c.action === 'rewrite')?.reason).toBe(
    `names the fingerprinted copies of legacy.js; integrity of ${[js, css, legacy].sort().join(', ')}`,
  )
  // the scanner that finds what a page loads reads the edited page as before (same references)
  expect(findHtmlRefs(written).map((x) => x.value)).toEqual([`/${js}`, `../${css}`, `/${legacy}`, `/${js}`, `/${js}`])
})
