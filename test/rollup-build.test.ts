import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { rollup, type Plugin } from 'rollup'
import { afterAll, describe, expect, it } from 'vitest'
import { cdnPublish, type CdnPublishOptions } from '../src/index.js'
import { codes, copyFixture, removeDir, result, type Log } from './helpers/build.js'

const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

/** A minimal CSS plugin of the kind plain Rollup users have: collects imported CSS and emits one stylesheet plus a page naming it. */
function cssAndHtml(): Plugin {
  const styles = new Map<string, string>()
  return {
    name: 'css-and-html',
    transform(code, id) {
      if (!id.endsWith('.css')) return null
      styles.set(id, code)
      return { code: 'export {}', map: null }
    },
    generateBundle(_, bundle) {
      const [id, css] = [...styles][0]
      const ref = this.emitFile({ type: 'asset', name: 'style.css', originalFileName: id, source: css })
      const main = Object.values(bundle).find((c) => c.type === 'chunk' && c.isEntry)!
      this.emitFile({
        type: 'asset',
        fileName: 'index.html',
        source: `<!doctype html><link rel="stylesheet" href="/${this.getFileName(ref)}"><script type="module" src="/${main.fileName}"></script>`,
      })
    },
  }
}

async function build(root: string, options: CdnPublishOptions = {}) {
  const warnings: Log[] = []
  const outDir = path.join(root, 'dist')
  rmSync(outDir, { recursive: true, force: true })
  const bundle = await rollup({
    input: path.join(root, 'src/main.js'),
    plugins: [cssAndHtml(), cdnPublish({ publicDir: path.join(root, 'public'), ...options })],
    onwarn: (w) => void warnings.push(w as unknown as Log),
  })
  await bundle.write({ dir: outDir, entryFileNames: '[name]-[hash].js', assetFileNames: 'assets/[name]-[hash][extname]' })
  await bundle.close()
  return result(root, outDir, warnings)
}

describe('rollup 4', () => {
  const root = copyFixture('rollup-css')
  dirs.push(root)

  it('rewrites url()s of CSS emitted by another plugin, renames it by its final content, and updates the page', async () => {
    const r = await build(root)
    // url(//cdn.example.com/x.png) is another site's: nothing to warn about
    expect(codes(r)).toEqual([])
    const cssFile = r.find(/^assets\/style-[\w-]{8}\.css$/)
    const css = r.text(cssFile)
    const bg = r.find(/^assets\/img\/bg-[\w-]{8}\.png$/)
    const logo = r.find(/^img\/logo-[\w-]{8}\.png$/)
    expect(r.files.get(bg)!.equals(readFileSync(path.join(root, 'src/img/bg.png')))).toBe(true)
    expect(css).toContain(`url(./img/${path.posix.basename(bg)})`)
    expect(css).toContain(`url("/${logo}")`)
    expect(css).toContain('url(//cdn.example.com/x.png)')
    expect(r.text('index.html')).toContain(`href="/${cssFile}"`)
    expect(r.manifest!.files[cssFile].immutable).toBe(true)
    expect(r.manifest!.files['index.html'].immutable).toBe(false)
    expect(Object.keys(r.manifest!.files).sort()).toEqual([...r.files.keys()].filter((f) => f !== 'cdn-manifest.json').sort())
  })

  it('builds with strict: true: another site\'s protocol-relative url() under base \'/\' is no unresolved reference', async () => {
    const r = await build(root, { strict: true })
    expect(r.warnings).toEqual([])
    expect(r.text(r.find(/^assets\/style-[\w-]{8}\.css$/))).toContain('url(//cdn.example.com/x.png)')
  })

  it('renames the stylesheet when an image it names changes, and only then', async () => {
    const a = await build(root)
    const same = await build(root)
    expect(same.find(/^assets\/style-[\w-]{8}\.css$/)).toBe(a.find(/^assets\/style-[\w-]{8}\.css$/))
    expect(same.files.get('cdn-manifest.json')!.equals(a.files.get('cdn-manifest.json')!)).toBe(true)
    writeFileSync(path.join(root, 'src/img/bg.png'), 'changed image bytes')
    const b = await build(root)
    for (const x of [a, same, b]) expect(codes(x)).toEqual([])
    const cssFile = b.find(/^assets\/style-[\w-]{8}\.css$/)
    expect(cssFile).not.toBe(a.find(/^assets\/style-[\w-]{8}\.css$/))
    expect(b.text('index.html')).toContain(`href="/${cssFile}"`)
    expect(b.find(/^main-[\w-]{8}\.js$/)).toBe(a.find(/^main-[\w-]{8}\.js$/))
  })

  it('warns UNHASHED_OUTPUT for Rollup\'s default [name].js entry names', async () => {
    const warnings: Log[] = []
    const bundle = await rollup({
      input: path.join(root, 'src/main.js'),
      plugins: [cssAndHtml(), cdnPublish({ publicDir: path.join(root, 'public') })],
      onwarn: (w) => void warnings.push(w as unknown as Log),
    })
    await bundle.write({ dir: path.join(root, 'dist-default') })
    await bundle.close()
    expect(codes(warnings)).toEqual(['UNHASHED_OUTPUT'])
    expect(warnings[0].files).toEqual(['main.js'])
  })
})
