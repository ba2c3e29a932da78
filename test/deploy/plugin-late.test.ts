/**
 * The plugin publishes the directory as it is when its `closeBundle` runs, after every other
 * plugin's: here a stand-in for a framework writes a prerendered page (naming a public file the
 * bundle never saw) and removes Vite's `.vite/manifest.json` in its own `closeBundle`, as
 * SvelteKit and friends do. Real Vite 7 and Vite 8 builds, published to both S3 test servers.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest } from '../../src/index.js'
import { codes, copyFixture, removeDir, vites, viteBuild } from '../helpers/build.js'
import { hash8 } from '../helpers/digest.js'
import { adminClient, createBucket, credsEnv, listAll, readObject, withEnv } from '../helpers/s3.js'

const servers = inject('s3servers')
const PREFIX = 'web/'
const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

const SVG = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'

/** What a framework does after the client build, in its own `closeBundle`. */
function frameworkAfterBuild() {
  let outDir = ''
  return {
    name: 'framework-stand-in',
    configResolved(config: { build: { outDir: string } }) {
      outDir = config.build.outDir
    },
    closeBundle: {
      sequential: true,
      handler() {
        mkdirSync(path.join(outDir, 'docs'), { recursive: true })
        writeFileSync(path.join(outDir, 'docs/index.html'), '<!doctype html><title>Docs</title><img src="/img/diagram.svg" alt="">')
        mkdirSync(path.join(outDir, 'img'), { recursive: true })
        writeFileSync(path.join(outDir, 'img/diagram.svg'), SVG)
        rmSync(path.join(outDir, '.vite'), { recursive: true, force: true })
      },
    },
  }
}

describe.each(servers.map((s) => [s.name, s] as const))('files written after the bundle, on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  test.each(vites)('%s: the late page and its fingerprinted image are published; .vite/ is not; no warning', async (vite) => {
    const root = copyFixture('basic')
    dirs.push(root)
    const bucket = await createBucket(admin, 'late')
    const result = await withEnv(credsEnv(server), () =>
      viteBuild(vite, root, { publish: { bucket, endpoint: server.endpoint, forcePathStyle: true, prefix: PREFIX } }, { build: { manifest: true }, plugins: [frameworkAfterBuild()] }),
    )
    expect(codes(result)).toEqual([])
    const copy = `img/diagram-${hash8(SVG)}.svg`
    const m = JSON.parse(readFileSync(path.join(result.outDir, 'cdn-manifest.json'), 'utf8')) as CdnManifest
    expect(m.files['docs/index.html']).toMatchObject({ immutable: false })
    expect(m.files[copy]).toMatchObject({ immutable: true, contentType: 'image/svg+xml' })
    expect(m.aliases['img/diagram.svg']).toBe(copy)
    expect(Object.keys(m.files).filter((f) => f.startsWith('.vite/'))).toEqual([])

    const keys = (await listAll(admin, bucket)).map((o) => o.key).filter((k) => !k.startsWith(`${PREFIX}.cdn-publish/`))
    expect(keys.sort()).toEqual([...Object.keys(m.files), 'cdn-manifest.json'].map((f) => PREFIX + f).sort())
    expect((await readObject(admin, bucket, `${PREFIX}docs/index.html`)).bytes.toString()).toBe(`<!doctype html><title>Docs</title><img src="/${copy}" alt="">`)
    expect((await readObject(admin, bucket, `${PREFIX}${copy}`)).bytes.toString()).toBe(SVG)

    // the report is in the project's cache directory, never in the served output
    const report = path.join(root, 'node_modules/.cache/cdn-publish/cdn-publish-report.json')
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ ok: true, bucket, release: m.release })
    expect(existsSync(path.join(result.outDir, 'cdn-publish-report.json'))).toBe(false)
  })
})
