/**
 * The manifest's `entries` is what Vite writes to `.vite/manifest.json` for the same build, key by
 * key, with the names this plugin gave the files it renamed. Vite's own manifest is a text file
 * of the bundle, so this plugin's renames rewrite the names in it too: the two are compared as
 * written, and each build also checks which files were renamed.
 */
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ManifestEntry } from '../src/index.js'
import { manifestEntries } from '../src/build/entries.js'
import type { BundleAsset, BundleChunk } from '../src/build/outputs.js'
import { expectWarnings, fixtureCopies, viteBuild, vites, type BuildResult } from './helpers/build.js'

const fx = fixtureCopies()
afterAll(() => fx.cleanup())

/** Nothing of this plugin's, nothing of Vite's. */
const CLEAN = { codes: [], vite: [] }

type Entries = Record<string, ManifestEntry>

interface Build {
  r: BuildResult
  /** Output file names before this plugin's pass over the bundle (renames included). */
  before: Set<string>
}

/**
 * A plugin that notes the bundle's file names in a `generateBundle` without an order: it runs
 * before this plugin's, whose order is 'post'.
 */
function namesBefore(into: Set<string>) {
  return {
    name: 'test:names-before',
    generateBundle(_: unknown, bundle: Record<string, unknown>) {
      for (const name of Object.keys(bundle)) into.add(name)
    },
  }
}

async function build(vite: (typeof vites)[number], root: string, input: string[] | undefined, manifest = true): Promise<Build> {
  const before = new Set<string>()
  const r = await viteBuild(
    vite,
    root,
    {},
    {
      plugins: [namesBefore(before)],
      build: {
        manifest,
        // the fixtures' images are small: emit them as files, as a real app's would be
        assetsInlineLimit: 0,
        ...(input ? { rollupOptions: { input: input.map((i) => path.join(root, i)) } } : {}),
      },
    },
  )
  return { r, before }
}

const viteManifest = (r: BuildResult): Entries => JSON.parse(r.text('.vite/manifest.json'))

/** Every output file an entry names (its file, stylesheets and assets). */
const named = (entries: Entries) => [...new Set(Object.values(entries).flatMap((e) => [e.file, ...(e.css ?? []), ...(e.assets ?? [])]))].sort()

const blankHash = (f: string) => f.replace(/-[\w-]{8}\./, '-#.')

/**
 * The files this plugin renamed: names of the bundle before its pass that are no longer in the
 * output, where the output has a new name that differs from the old only in its hash (Vite itself
 * drops the chunks of stylesheet-only modules, which are not renames).
 */
function renamed({ r, before }: Build): string[] {
  const added = new Set([...r.files.keys()].filter((f) => !before.has(f)).map(blankHash))
  return [...before].filter((f) => !r.files.has(f) && added.has(blankHash(f))).sort()
}

/** Keys with the content hash of `_<file>` keys blanked, sorted. */
const shapeOfKeys = (entries: Entries) => Object.keys(entries).map(blankHash).sort()


function expectSameAsVite({ r }: Build) {
  const ours = r.manifest!.entries
  const theirs = viteManifest(r)
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort())
  for (const key of Object.keys(theirs)) expect(ours[key], key).toEqual(theirs[key])
  for (const f of named(ours)) expect(r.files.has(f), f).toBe(true)
}

describe.each(vites)('%s', (vite) => {
  describe('code-split stylesheets: lazy chunks, a stylesheet two chunks share, a CSS-only import, one image from two sources', () => {
    let b: Build
    it('builds', async () => {
      b = await build(vite, fx.copy('entries-split'), undefined)
      expectWarnings(b.r, CLEAN)
      expect(renamed(b)).toEqual([])
    })

    it('entries equal Vite manifest', () => {
      expectSameAsVite(b)
      expect(shapeOfKeys(b.r.manifest!.entries)).toEqual([
        '_shared-#.css',
        'index.html',
        'src/copy/dot.png',
        'src/img/dot.png',
        'src/img/panel.png',
        'src/only.css',
        'src/page-a.js',
        'src/page-b.js',
      ])
    })

    it('lists the shared stylesheet under its file name, and in both chunks that need it', () => {
      const e = b.r.manifest!.entries
      const shared = b.r.find(/^assets\/shared-[\w-]{8}\.css$/)
      expect(e[`_${path.posix.basename(shared)}`]).toEqual({ file: shared, src: `_${path.posix.basename(shared)}` })
      expect(e['src/page-a.js'].css).toEqual([b.r.find(/^assets\/page-a-[\w-]{8}\.css$/), shared])
      expect(e['src/page-b.js'].css).toEqual([b.r.find(/^assets\/page-b-[\w-]{8}\.css$/), shared])
      expect(e['src/only.css']).toEqual({ file: b.r.find(/^assets\/only-[\w-]{8}\.css$/), src: 'src/only.css' })
    })

    it('one image from two sources: both keys, one file, the first source as src', () => {
      const e = b.r.manifest!.entries
      const dot = b.r.find(/^assets\/dot-[\w-]{8}\.png$/)
      expect(e['src/img/dot.png']).toEqual(e['src/copy/dot.png'])
      expect(e['src/img/dot.png'].file).toBe(dot)
      expect(['src/img/dot.png', 'src/copy/dot.png']).toContain(e['src/img/dot.png'].src)
    })
  })

  describe('stylesheet entry points beside an HTML page and a script', () => {
    let b: Build
    it('builds', async () => {
      b = await build(vite, fx.copy('entries-css-input'), ['index.html', 'src/widget.js', 'src/theme.css', 'src/print.scss'])
      expectWarnings(b.r, CLEAN)
      expect(renamed(b)).toEqual([])
    })

    it('entries equal Vite manifest', () => {
      expectSameAsVite(b)
      expect(shapeOfKeys(b.r.manifest!.entries)).toEqual(['index.html', 'src/img/tile.png', 'src/print.scss', 'src/theme.css', 'src/widget.js'])
    })

    it('a stylesheet entry is an entry, with its name and names', () => {
      const e = b.r.manifest!.entries
      expect(e['src/theme.css']).toMatchObject({ file: b.r.find(/^assets\/theme-[\w-]{8}\.css$/), src: 'src/theme.css', isEntry: true, name: 'theme', names: ['theme.css'] })
      expect(e['src/print.scss']).toMatchObject({ file: b.r.find(/^assets\/print-[\w-]{8}\.css$/), src: 'src/print.scss', isEntry: true, name: 'print', names: ['print.css'] })
      expect(e['src/widget.js']).toMatchObject({ isEntry: true, name: 'widget' })
      expect(e['index.html']).toMatchObject({ isEntry: true, name: 'index', css: [b.r.find(/^assets\/index-[\w-]{8}\.css$/)] })
      // Vite 8 lists what a stylesheet entry needs (its image, the fingerprinted public badge); Vite 7 does not
      const assets = vite === 'vite8' ? [b.r.find(/^assets\/tile-[\w-]{8}\.png$/), b.r.find(/^img\/badge-[\w-]{8}\.png$/)] : undefined
      expect(e['src/theme.css'].assets).toEqual(assets)
    })
  })

  describe('backend integration: scripts and a stylesheet as input, no page; public images in CSS renamed stylesheets', () => {
    const input = ['src/app.js', 'src/admin.js', 'src/style.css']
    let root: string
    let b: Build
    it('builds', async () => {
      root = fx.copy('entries-backend')
      b = await build(vite, root, input)
      expectWarnings(b.r, CLEAN)
      // a public name that needs quoting goes through the output pass: the stylesheets naming it get new names
      const logo = b.r.find(/^img\/site logo-[\w-]{8}\.png$/)
      const changed = renamed(b)
      expect(changed.map(blankHash)).toEqual(['assets/app-#.css', 'assets/style-#.css'])
      for (const f of changed) expect(b.r.files.has(f), f).toBe(false)
      for (const css of [b.r.find(/^assets\/app-[\w-]{8}\.css$/), b.r.find(/^assets\/style-[\w-]{8}\.css$/)]) {
        expect(b.before.has(css), css).toBe(false)
        expect(b.r.text(css)).toContain(`url(/${logo.replace(' ', '%20')})`)
      }
    })

    it('entries equal Vite manifest, with the new names', () => {
      expectSameAsVite(b)
      const e = b.r.manifest!.entries
      expect(e['src/style.css']).toMatchObject({ file: b.r.find(/^assets\/style-[\w-]{8}\.css$/), src: 'src/style.css', isEntry: true, name: 'style', names: ['style.css'] })
      expect(e['src/app.js']).toMatchObject({ isEntry: true, css: [b.r.find(/^assets\/app-[\w-]{8}\.css$/)] })
      expect(e['src/admin.js']).toMatchObject({ isEntry: true, name: 'admin' })
      for (const f of renamed(b)) expect(named(e)).not.toContain(f)
      // what a backend reads: every entry point, by its input path
      for (const i of input) expect(e[i]?.isEntry, i).toBe(true)
    })

    it('the same entries without build.manifest', async () => {
      const without = await build(vite, root, input, false)
      expectWarnings(without.r, CLEAN)
      expect(without.r.files.has('.vite/manifest.json')).toBe(false)
      expect(without.r.manifest!.entries).toEqual(b.r.manifest!.entries)
    })
  })
})

describe('manifestEntries rules the builds above do not reach', () => {
  const root = path.resolve('/project')
  const chunk = (fileName: string, facade: string | null, more: Partial<BundleChunk> = {}): BundleChunk => ({
    type: 'chunk',
    fileName,
    name: path.posix.basename(fileName).replace(/-.*/, ''),
    code: '',
    isEntry: false,
    facadeModuleId: facade && path.join(root, facade),
    imports: [],
    dynamicImports: [],
    ...more,
  })
  const asset = (fileName: string, more: Partial<BundleAsset>): BundleAsset => ({ type: 'asset', fileName, source: '', ...more })

  it('a JavaScript chunk keeps its key whichever comes first; the stylesheet is in its css', () => {
    const js = chunk('assets/main-AAAAAAAA.js', 'src/main.js', { isEntry: true, viteMetadata: { importedCss: new Set(['assets/main-BBBBBBBB.css']), importedAssets: new Set() } })
    const css = asset('assets/main-BBBBBBBB.css', { names: ['main.css'], originalFileNames: ['src/main.js'] })
    const want = { 'src/main.js': { file: js.fileName, name: 'main', src: 'src/main.js', isEntry: true, css: [css.fileName] } }
    expect(manifestEntries([js, css], { root, entryChunks: new Map() })).toEqual(want)
    expect(manifestEntries([css, js], { root, entryChunks: new Map() })).toEqual(want)
  })

  it('a legacy (system) output lists its chunks under -legacy keys, as Vite 7 does', () => {
    const main = chunk('assets/main-legacy-AAAAAAAA.js', 'src/main.js', { name: 'main', isEntry: true, imports: ['assets/util-legacy-CCCCCCCC.js'] })
    const util = chunk('assets/util-legacy-CCCCCCCC.js', 'src/util.js', { name: 'util-legacy' })
    const e = manifestEntries([main, util], { root, entryChunks: new Map(), format: 'system' })
    expect(Object.keys(e).sort()).toEqual(['src/main-legacy.js', 'src/util.js'])
    expect(e['src/main-legacy.js']).toMatchObject({ src: 'src/main-legacy.js', imports: ['src/util.js'] })
  })

  it('older Rollup: name and originalFileName stand for names and originalFileNames', () => {
    const img = asset('assets/dot-DDDDDDDD.png', { name: 'dot.png', originalFileName: path.join(root, 'src/dot.png') })
    const bare = asset('assets/copy-EEEEEEEE.png', {})
    expect(manifestEntries([img, bare], { root, entryChunks: new Map() })).toEqual({ 'src/dot.png': { file: img.fileName, src: 'src/dot.png' } })
  })

  it('an entry chunk still in the bundle makes no stylesheet an entry', () => {
    const js = chunk('assets/app-AAAAAAAA.js', 'src/app.js', { isEntry: true })
    const css = asset('assets/theme-BBBBBBBB.css', { names: ['theme.css'], originalFileNames: ['src/theme.css'] })
    const entryChunks = new Map([[path.join(root, 'src/app.js'), 'app'], [path.join(root, 'src/theme.css'), 'theme']])
    const e = manifestEntries([js, css], { root, entryChunks })
    expect(e['src/theme.css']).toEqual({ file: css.fileName, src: 'src/theme.css', isEntry: true, name: 'theme', names: ['theme.css'] })
    expect(e['src/app.js']).toEqual({ file: js.fileName, name: 'app', src: 'src/app.js', isEntry: true })
  })
})
