/**
 * `cdn-publish publish <dir>` is the deploy core: the built binary, spawned as a child process,
 * publishes to both S3 test servers (radosgw and s3rver)
 * - a build with its `cdn-manifest.json`,
 * - a build directory a framework changed after the bundle (a prerendered page naming a public
 *   image, a route manifest, a version file added; Vite's `.vite/manifest.json` dropped),
 * - a static directory with no manifest at all,
 * and refuses a build whose published file changed after the build. Every added or classified
 * file is shown in the dry-run plan with its reason; the dry run changes neither the bucket nor
 * the directory. The report lands outside the published directory.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest } from '../../src/index.js'
import { codes, copyFixture, readOutDir, removeDir, repoRoot, viteBuild } from '../helpers/build.js'
import { hash8 } from '../helpers/digest.js'
import { cliEnv, runCli, type CliResult } from '../helpers/cli.js'
import { adminClient, createBucket, credsEnv, listAll, readObject } from '../helpers/s3.js'

const servers = inject('s3servers')
const PREFIX = 'site/'
const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))


function expectExit(r: CliResult, code: number) {
  expect(r.code, `exit code\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(code)
}

/** A real Vite 8 build of the `basic` fixture, publishing off; returns its project root. */
async function builtApp(config: Record<string, unknown> = {}): Promise<string> {
  const root = copyFixture('basic')
  dirs.push(root)
  const r = await viteBuild('vite8', root, { publish: false }, config)
  expect(codes(r), 'the warnings of the build').toEqual([])
  return root
}

function tempDir(label: string): string {
  mkdirSync(path.join(repoRoot, 'test/.tmp'), { recursive: true })
  const dir = mkdtempSync(path.join(repoRoot, 'test/.tmp', `${label}-`))
  dirs.push(dir)
  return dir
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'cdn-manifest.json'), 'utf8')) as CdnManifest

describe.each(servers.map((s) => [s.name, s] as const))('cdn-publish publish <dir> on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())
  const target = (bucket: string, report: string) => ['--bucket', bucket, '--endpoint', server.endpoint, '--prefix', PREFIX, '--report', report]
  const env = () => cliEnv(credsEnv(server))
  const keysOf = async (bucket: string) => (await listAll(admin, bucket)).map((o) => o.key).filter((k) => !k.startsWith(`${PREFIX}.cdn-publish/`)).sort()

  test('a build with its cdn-manifest.json: every file it lists, the report outside the directory', async () => {
    const root = await builtApp()
    const dist = path.join(root, 'dist')
    const bucket = await createBucket(admin, 'dir-built')
    const report = path.join(root, 'reports/publish.json')
    const before = readOutDir(dist)
    const r = await runCli(['publish', dist, ...target(bucket, report)], env())
    expectExit(r, 0)
    expect(r.stderr).toMatch(/published release [0-9a-f]+ in/)
    expect(r.stderr).not.toContain('directory ')
    const m = manifestOf(dist)
    expect(await keysOf(bucket)).toEqual([...Object.keys(m.files), 'cdn-manifest.json'].map((k) => PREFIX + k).sort())
    // the directory is as the build left it, and the report is where it was asked for
    expect(readOutDir(dist)).toEqual(before)
    const written = JSON.parse(readFileSync(report, 'utf8')) as { ok: boolean; release: string; directory?: unknown }
    expect(written).toMatchObject({ ok: true, release: m.release })
    expect(written.directory).toBeUndefined()
  })

  test('a directory a framework changed after the build: the dry run shows every file with its reason, then the publish lands it all', async () => {
    const root = await builtApp({ build: { manifest: true } })
    const dist = path.join(root, 'dist')
    const built = manifestOf(dist)
    expect(Object.keys(built.files)).toContain('.vite/manifest.json')
    // what a framework does after the client build
    rmSync(path.join(dist, '.vite'), { recursive: true })
    mkdirSync(path.join(dist, 'about'))
    writeFileSync(path.join(dist, 'about/index.html'), '<!doctype html><img src="/img/late.svg" alt=""><img src="/img/logo.png" alt="">')
    writeFileSync(path.join(dist, 'img/late.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
    writeFileSync(path.join(dist, 'assets/manifest-0f3a9c1e.js'), 'window.__routes={}')
    mkdirSync(path.join(dist, '_app'))
    writeFileSync(path.join(dist, '_app/version.json'), '{"version":"1"}')
    // the build gave img/logo.png its copy already; img/late.svg came with the framework
    const logo = built.aliases['img/logo.png']!
    const copy = `img/late-${hash8('<svg xmlns="http://www.w3.org/2000/svg"/>')}.svg`
    const bucket = await createBucket(admin, 'dir-late')
    const report = path.join(root, 'report.json')

    const before = readOutDir(dist)
    const dry = await runCli(['publish', dist, '--dry-run', ...target(bucket, report)], env())
    expectExit(dry, 0)
    const plan = dry.stderr.split('\n').filter((l) => /^ {2}(add|drop|ignore|copy|rewrite) /.test(l))
    expect(plan).toEqual([
      '  drop     .vite/manifest.json (build-internal (.vite/), removed after the build)',
      '  add      _app/version.json (written after the build, no content hash in its name, mutable)',
      '  add      about/index.html (page written after the build, mutable)',
      '  add      assets/manifest-0f3a9c1e.js (written after the build, name carries a content hash (<name>-<hash>.<ext>), immutable)',
      '  add      img/late.svg (written after the build, no content hash in its name, mutable)',
      `  copy     ${copy} (fingerprinted copy of img/late.svg)`,
      '  rewrite  about/index.html (names the fingerprinted copies of img/late.svg, img/logo.png)',
    ])
    expect(dry.stderr).toContain(`directory ${dist} (the build manifest): 4 added, 1 left out, 1 fingerprinted, 1 page(s) rewritten`)
    // the would-be uploads include the late files
    for (const key of ['about/index.html', 'assets/manifest-0f3a9c1e.js', '_app/version.json', copy]) expect(dry.stderr).toContain(`${PREFIX}${key} (`)
    expect(readOutDir(dist), 'the dry run leaves the directory alone').toEqual(before)
    expect(await listAll(admin, bucket)).toEqual([])

    const r = await runCli(['publish', dist, ...target(bucket, report)], env())
    expectExit(r, 0)
    const m = manifestOf(dist)
    expect(m.entries).toEqual(built.entries)
    expect(m.aliases).toEqual({ ...built.aliases, 'img/late.svg': copy })
    expect(Object.keys(m.files)).not.toContain('.vite/manifest.json')
    expect(await keysOf(bucket)).toEqual([...Object.keys(m.files), 'cdn-manifest.json'].map((k) => PREFIX + k).sort())
    const page = await readObject(admin, bucket, `${PREFIX}about/index.html`)
    expect(page.bytes.toString()).toBe(`<!doctype html><img src="/${copy}" alt=""><img src="/${logo}" alt="">`)
    expect(page.cacheControl).toBe('no-cache')
    expect((await readObject(admin, bucket, `${PREFIX}${copy}`)).cacheControl).toBe('public, max-age=31536000, immutable')
    expect((await readObject(admin, bucket, `${PREFIX}assets/manifest-0f3a9c1e.js`)).cacheControl).toBe('public, max-age=31536000, immutable')
    expect((await readObject(admin, bucket, `${PREFIX}_app/version.json`)).cacheControl).toBe('no-cache')
    expect((await readObject(admin, bucket, `${PREFIX}cdn-manifest.json`)).bytes.toString()).toBe(readFileSync(path.join(dist, 'cdn-manifest.json'), 'utf8'))
    // the directory now holds what was published: the copy, the rewritten page, the final manifest
    expect(readFileSync(path.join(dist, 'about/index.html'), 'utf8')).toContain(`/${copy}`)
    expect(existsSync(path.join(dist, copy))).toBe(true)
    const written = JSON.parse(readFileSync(report, 'utf8')) as { directory: { path: string; action: string }[] }
    expect(written.directory.map((c) => `${c.action} ${c.path}`)).toEqual(plan.map((l) => l.trim().replace(/^copy/, 'fingerprint').replace(/ +/, ' ').replace(/ \(.*$/, '')))

    // publishing the same directory again: nothing to add, nothing uploaded
    const again = await runCli(['publish', dist, ...target(bucket, report)], env())
    expectExit(again, 0)
    expect(again.stderr).not.toContain('directory ')
    expect(again.stderr).toMatch(/: 0 files uploaded, \d+ skipped/)
  })

  test('a published file that changed after the build fails the publish and leaves the bucket alone', async () => {
    const root = await builtApp()
    const dist = path.join(root, 'dist')
    const js = Object.keys(manifestOf(dist).files).find((f) => /^assets\/.*\.js$/.test(f))!
    writeFileSync(path.join(dist, js), `${readFileSync(path.join(dist, js), 'utf8')}\n// changed`)
    const bucket = await createBucket(admin, 'dir-changed')
    const r = await runCli(['publish', dist, ...target(bucket, path.join(root, 'report.json'))], env())
    expectExit(r, 1)
    expect(r.stderr).toContain(`error [PUBLISH_FAILED]: 1 file(s) of ${path.join(dist, 'cdn-manifest.json')} differ from the output directory ${dist}: ${js} (`)
    expect(await listAll(admin, bucket)).toEqual([])
  })

  test('a static directory with no manifest: the manifest is built from the directory', async () => {
    const dir = tempDir('static-site')
    const files: Record<string, string> = {
      'index.html': '<!doctype html><link rel="stylesheet" href="/css/site.5f3c2a1b9e8d.css"><img src="/img/hero.png"><script src="/js/app.js"></script>',
      'docs/index.html': '<!doctype html><a href="/">home</a>',
      'css/site.5f3c2a1b9e8d.css': 'body{margin:0}',
      'img/hero.png': 'png bytes',
      'js/app.js': 'console.log("app")',
      'robots.txt': 'User-agent: *',
    }
    for (const [rel, body] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
      writeFileSync(path.join(dir, rel), body)
    }
    const bucket = await createBucket(admin, 'dir-static')
    const report = path.join(tempDir('reports'), 'report.json')
    const dry = await runCli(['publish', dir, '--dry-run', ...target(bucket, report)], env())
    expectExit(dry, 0)
    expect(dry.stderr).toContain(`directory ${dir} (no manifest: built from the directory): 6 added, 2 fingerprinted, 1 page(s) rewritten`)
    expect(dry.stderr).toContain('  add      css/site.5f3c2a1b9e8d.css (found in the directory, name carries a content hash (<name>.<hash>.<ext>), immutable)')
    expect(dry.stderr).toContain('  add      robots.txt (found in the directory, no content hash in its name, mutable)')
    expect(existsSync(path.join(dir, 'cdn-manifest.json')), 'a dry run writes no manifest').toBe(false)
    expect(await listAll(admin, bucket)).toEqual([])

    const r = await runCli(['publish', dir, ...target(bucket, report)], env())
    expectExit(r, 0)
    const m = manifestOf(dir)
    const hero = `img/hero-${hash8('png bytes')}.png`
    const app = `js/app-${hash8('console.log("app")')}.js`
    expect(m.aliases).toEqual({ 'img/hero.png': hero, 'js/app.js': app })
    expect(m.base).toBe('/')
    expect(await keysOf(bucket)).toEqual([...Object.keys(files), hero, app, 'cdn-manifest.json'].map((k) => PREFIX + k).sort())
    expect((await readObject(admin, bucket, `${PREFIX}index.html`)).bytes.toString()).toBe(
      `<!doctype html><link rel="stylesheet" href="/css/site.5f3c2a1b9e8d.css"><img src="/${hero}"><script src="/${app}"></script>`,
    )
    expect((await readObject(admin, bucket, `${PREFIX}css/site.5f3c2a1b9e8d.css`)).cacheControl).toBe('public, max-age=31536000, immutable')
    expect((await readObject(admin, bucket, `${PREFIX}robots.txt`)).cacheControl).toBe('no-cache')
  })

  test('skewGuard and sri from the config file: the guard on the page with its integrity, cdn-release.json in the bucket', async () => {
    const root = await builtApp()
    const dist = path.join(root, 'dist')
    const bucket = await createBucket(admin, 'dir-guard')
    const config = path.join(root, 'cdn-publish.config.json')
    writeFileSync(config, JSON.stringify({ sri: true, skewGuard: { poll: '5m' } }))
    const r = await runCli(['publish', dist, '--config', config, ...target(bucket, path.join(root, 'report.json'))], env())
    expectExit(r, 0)
    const m = manifestOf(dist)
    const guard = Object.keys(m.files).find((f) => /^cdn-skew-guard-[\w-]{8}\.js$/.test(f))!
    const release = JSON.parse(readFileSync(path.join(dist, 'cdn-release.json'), 'utf8')) as { build: string; release: string }
    expect(release.release).toBe(m.release)
    const page = readFileSync(path.join(dist, 'index.html'), 'utf8')
    expect(page).toContain(
      `<script src="/${guard}" data-cdn-skew-guard data-build="${release.build}" data-release-url="/cdn-release.json" data-poll="300000" integrity="${m.files[guard].integrity}" crossorigin></script>`,
    )
    expect((await readObject(admin, bucket, `${PREFIX}cdn-release.json`)).bytes.toString()).toBe(`${JSON.stringify(release)}\n`)
    expect((await readObject(admin, bucket, `${PREFIX}index.html`)).bytes.toString()).toBe(page)
    expect((await readObject(admin, bucket, `${PREFIX}${guard}`)).cacheControl).toBe('public, max-age=31536000, immutable')
  })

  test('the default report goes to node_modules/.cache/cdn-publish/ of the working directory; inside the published directory it is refused', async () => {
    const root = await builtApp()
    const dist = path.join(root, 'dist')
    const bucket = await createBucket(admin, 'dir-report')
    const args = ['publish', dist, '--bucket', bucket, '--endpoint', server.endpoint, '--prefix', PREFIX]
    const inside = await runCli([...args, '--report', path.join(dist, 'report.json')], env())
    expectExit(inside, 2)
    expect(inside.stderr).toContain(`error [INVALID_OPTION]: Invalid option \`--report\`: ${path.join(dist, 'report.json')} is inside the published directory ${dist}`)
    expect(await listAll(admin, bucket)).toEqual([])

    const r = await runCli(args, env(), { cwd: root })
    expectExit(r, 0)
    const report = path.join(root, 'node_modules/.cache/cdn-publish/cdn-publish-report.json')
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ ok: true, bucket })
    expect(readOutDir(dist).has('cdn-publish-report.json')).toBe(false)
    expect(r.stderr).toContain(`report: ${report}`)
  })
})
