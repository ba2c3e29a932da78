/**
 * Publishing from a plain Rollup 4 build, to both S3 test servers: the plugin's `closeBundle`
 * runs the same deploy core as under Vite. Under Rollup the progress lines are the plugin
 * context's info logs and warnings carry their own code: a successful publish warns nothing, and
 * a report that cannot be written is one `REPORT_NOT_WRITTEN` warning, once.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { rollup, type RollupLog } from 'rollup'
import { afterAll, describe, expect, inject, test } from 'vitest'
import { cdnPublish, type CdnManifest, type CdnPublishOptions } from '../src/index.js'
import { readOutDir, removeDir, repoRoot } from './helpers/build.js'
import { adminClient, createBucket, credsEnv, listAll, readObject, withEnv } from './helpers/s3.js'

const servers = inject('s3servers')
const PREFIX = 'app/'
const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

/** A small Rollup project: one entry with a dynamic import, and a public file. */
function project(): string {
  mkdirSync(path.join(repoRoot, 'test/.tmp'), { recursive: true })
  const root = path.join(repoRoot, 'test/.tmp', `rollup-publish-${Math.random().toString(36).slice(2, 10)}`)
  dirs.push(root)
  mkdirSync(path.join(root, 'src'), { recursive: true })
  mkdirSync(path.join(root, 'public'), { recursive: true })
  writeFileSync(path.join(root, 'src/main.js'), "export const main = () => import('./lazy.js')\n")
  writeFileSync(path.join(root, 'src/lazy.js'), "export const lazy = 'lazy'\n")
  writeFileSync(path.join(root, 'public/robots.txt'), 'User-agent: *\n')
  return root
}

async function build(root: string, options: CdnPublishOptions) {
  const warnings: RollupLog[] = []
  const infos: RollupLog[] = []
  const bundle = await rollup({
    input: path.join(root, 'src/main.js'),
    plugins: [cdnPublish({ publicDir: path.join(root, 'public'), ...options })],
    onLog(level, log) {
      if (level === 'warn') warnings.push(log)
      else if (level === 'info') infos.push(log)
    },
  })
  await bundle.write({ dir: path.join(root, 'dist'), format: 'es', entryFileNames: '[name]-[hash].js', chunkFileNames: '[name]-[hash].js' })
  await bundle.close()
  return { warnings, infos, outDir: path.join(root, 'dist') }
}

describe.each(servers.map((s) => [s.name, s] as const))('a Rollup 4 build publishes on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())
  const publish = (bucket: string, extra: Record<string, unknown> = {}) => ({ publish: { bucket, endpoint: server.endpoint, forcePathStyle: true, prefix: PREFIX, ...extra } })

  test('every output file lands; the only logs are info lines; no warning at all', async () => {
    const root = project()
    const bucket = await createBucket(admin, 'rollup')
    const report = path.join(root, 'reports/publish.json')
    const r = await withEnv(credsEnv(server), () => build(root, publish(bucket, { report })))
    expect(r.warnings.map((w) => [w.pluginCode ?? w.code, w.message])).toEqual([])
    const lines = r.infos.filter((l) => l.plugin === 'cdn-publish').map((l) => l.message.replace(/^\[plugin cdn-publish\] /, ''))
    expect(lines.at(-1)).toMatch(/^published release [0-9a-f]+ in \d+\.\d\d s: \d+ files and the manifest uploaded, 0 skipped, .* sent; current release [0-9a-f]+; releases kept 1, deleted 0/)

    const files = readOutDir(r.outDir)
    const manifest = JSON.parse(files.get('cdn-manifest.json')!.toString()) as CdnManifest
    expect(Object.keys(manifest.files).sort()).toEqual([...files.keys()].filter((f) => f !== 'cdn-manifest.json').sort())
    expect(Object.keys(manifest.files).some((f) => /^lazy-[\w-]{8}\.js$/.test(f))).toBe(true)
    const keys = (await listAll(admin, bucket)).map((o) => o.key).filter((k) => !k.startsWith(`${PREFIX}.cdn-publish/`))
    expect(keys.sort()).toEqual([...Object.keys(manifest.files), 'cdn-manifest.json'].map((f) => PREFIX + f).sort())
    expect((await readObject(admin, bucket, `${PREFIX}cdn-manifest.json`)).bytes.toString()).toBe(files.get('cdn-manifest.json')!.toString())
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ ok: true, bucket, release: manifest.release })
    expect(files.has('cdn-publish-report.json')).toBe(false)
  })

  test('a report that cannot be written is one REPORT_NOT_WRITTEN warning; the publish stands', async () => {
    const root = project()
    const bucket = await createBucket(admin, 'rollup-report')
    // a file where the report's directory should be
    writeFileSync(path.join(root, 'blocker'), 'not a directory')
    const r = await withEnv(credsEnv(server), () => build(root, publish(bucket, { report: path.join(root, 'blocker/report.json') })))
    expect(r.warnings.map((w) => w.pluginCode ?? w.code)).toEqual(['REPORT_NOT_WRITTEN'])
    expect(r.warnings[0]!.message).toContain(`could not write the publish report ${path.join(root, 'blocker/report.json')}`)
    expect((await listAll(admin, bucket)).some((o) => o.key === `${PREFIX}cdn-manifest.json`)).toBe(true)
  })
})
