/**
 * The test every framework starter (playground/<app>) gets, on every S3 test server: the app is
 * installed, built with its own build command and published as a user would (bucket and keys
 * in the environment); then
 *
 * - without a bucket, the build prints the one "publishing skipped" line and nothing else of ours;
 * - with one, every file of the directory the framework deploys is in the bucket (pages, route
 *   manifest, public files, version files), and nothing else of the project (no `.vite/`, no report);
 * - every URL the served pages name (static HTML, or what the built app server answers; their
 *   attributes and inline `<style>`s), and every `url()` of the published stylesheets, resolves
 *   to an object of the bucket: 0 missing;
 * - the public image the global stylesheet names is fingerprinted;
 * - an unchanged rebuild uploads nothing but what the framework changes on every build.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { findCssRefs, isExternalOrSpecialUrl } from '../../src/build/css-urls.js'
import type { CdnManifest } from '../../src/index.js'
import { appDir, appNode, type AppServer, installApp, run, pluginLines, runBuild, startServer, type Run } from '../helpers/apps.js'
import { listFiles, readReport } from '../helpers/build.js'
import { INTERNAL_TOKEN_RE } from '../helpers/tokens.js'
import { cliEnv } from '../helpers/cli.js'
import { adminClient, createBucket, credsEnv, listAll, readBytes, readObject } from '../helpers/s3.js'
import type { DeployReport } from '../../src/deploy/index.js'

export interface Starter {
  /** playground/<app> */
  app: string
  /** What its build writes (removed before each build), relative to the app. */
  outputs: string[]
  /** The directory a CDN origin serves, relative to the app: what must be in the bucket. */
  published: string
  /** Files of `published` that are not published, on purpose, and why (precompressed copies…). */
  leftOut?: RegExp
  /** Static pages (relative to `published`) whose URLs must resolve. */
  pages?: string[]
  /** The built app server, for SSR starters: its command (run in the app), and the paths to ask. */
  server?: { command: AppServer; paths: string[] }
  /** Files (relative to `published`) an unchanged rebuild changes because the framework does. */
  volatile?: RegExp
  /**
   * The bucket prefix, matching the URL path the framework's asset base gives (Laravel `/build/`,
   * Rails `/vite/`): a CDN in front of the bucket then serves `/<prefix><file>`.
   */
  prefix?: string
  /** Files (relative to `published`) and the `Cache-Control` they must be stored with (a polled file inside an immutable directory). */
  cacheControl?: Record<string, RegExp>
  /** Timeout of one build, ms. */
  buildTimeout?: number
  /**
   * The Node major the app builds and serves on, when not the tests' own: the starters of the
   * latest framework majors pin `node@22` from the registry as a devDependency (./helpers/apps.ts `appNode`).
   */
  node?: number
}

const servers = inject('s3servers')
/** Beside the public file, or under the framework's asset directory (Nuxt: `_nuxt/img/`). */
const PUBLIC_IMAGE = /^(?:[\w-]+\/)?img\/pub-[\w-]{8}\.png$/

/** Every URL an HTML page names in src/href/srcset attributes. */
export function htmlUrls(html: string): string[] {
  const urls: string[] = []
  for (const m of html.matchAll(/\s(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) urls.push(m[1] ?? m[2] ?? '')
  for (const m of html.matchAll(/\ssrcset\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    for (const part of (m[1] ?? m[2] ?? '').split(',')) urls.push(part.trim().split(/\s+/)[0] ?? '')
  }
  return urls.filter((u) => u && !u.startsWith('#'))
}

/** Every `url()` of the stylesheets a page inlines (`<style>` elements: Astro inlines small stylesheets). */
export function inlineStyleUrls(html: string): string[] {
  return [...html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)].flatMap((m) => findCssRefs(m[1] ?? '').map((r) => r.url))
}

/** The key of the bucket a URL names, resolved as a browser does against the page's URL path (the prefix is empty here); undefined for another site's. */
function keyOf(url: string, pagePath: string): string | undefined {
  if (isExternalOrSpecialUrl(url) || url.startsWith('data:')) return undefined
  const site = 'http://site.invalid'
  const resolved = new URL(url, site + pagePath)
  if (resolved.origin !== site) return undefined
  return decodeURIComponent(resolved.pathname.slice(1))
}

function expectBuilt(r: Run, what: string): void {
  expect(r.code, `${what} failed:\n${r.output.slice(-6000)}`).toBe(0)
}

export function describeStarter(s: Starter): void {
  const dir = appDir(s.app)
  const published = path.join(dir, s.published)
  const timeout = s.buildTimeout ?? 180_000

  beforeAll(() => installApp(s.app), 600_000)

  if (s.node !== undefined) {
    test(`${s.app}: builds and serves on Node ${s.node}, its own devDependency`, async () => {
      const r = await run(appNode(s.app), ['--version'], dir, process.env)
      expect(r.output.trim()).toMatch(new RegExp(`^v${s.node}\\.`))
    })
  }

  test(`${s.app}: without a bucket the build prints its one line and publishes nothing`, { timeout }, async () => {
    const r = await runBuild(s.app, s.outputs)
    expectBuilt(r, 'the build')
    expect(pluginLines(r.output)).toEqual(['[cdn-publish] publishing skipped: no bucket (set publish.bucket or CDN_PUBLISH_BUCKET)'])
  })

  describe.each(servers.map((x) => [x.name, x] as const))(`${s.app} published to %s`, (_name, server) => {
    const admin = adminClient(server)
    afterAll(() => admin.destroy())
    let bucket: string
    let keys: Set<string>
    let first: Run
    const prefix = s.prefix ?? ''
    const publishEnv = () => ({ ...credsEnv(server), CDN_PUBLISH_BUCKET: bucket, CDN_PUBLISH_ENDPOINT: server.endpoint, CDN_PUBLISH_PREFIX: prefix })

    test('the build publishes once, warning about nothing', { timeout }, async () => {
      bucket = await createBucket(admin, s.app.replace(/[^a-z\d]+/g, '').slice(0, 20))
      first = await runBuild(s.app, s.outputs, publishEnv())
      expectBuilt(first, 'the build')
      const lines = pluginLines(first.output)
      // info lines only (no warning of ours), and exactly one publish
      expect(lines.filter((l) => !l.startsWith('[cdn-publish] ')), first.output).toEqual([])
      expect(lines.filter((l) => /^\[cdn-publish\] publishing release /.test(l))).toHaveLength(1)
      keys = new Set((await listAll(admin, bucket)).map((o) => o.key))
    })

    test('no file the build wrote (client and server output) holds an internal token', () => {
      const leaks: string[] = []
      for (const out of s.outputs.map((o) => path.join(dir, o)).filter((o) => existsSync(o))) {
        // the packages a server build copies beside its code are not the build's
        const files = statSync(out).isDirectory() ? listFiles(out).filter((f) => !f.includes('node_modules/')).map((f) => path.join(out, f)) : [out]
        for (const file of files) if (INTERNAL_TOKEN_RE.test(readFileSync(file, 'latin1'))) leaks.push(path.relative(dir, file))
      }
      expect(leaks).toEqual([])
    })

    test('every file of the directory the framework deploys is in the bucket, and nothing of the project else', async () => {
      const files = listFiles(published)
        .filter((f) => !(s.leftOut?.test(f) ?? false) && !f.startsWith('.vite/'))
        .map((f) => prefix + f)
      const missing = files.filter((f) => !keys.has(f))
      expect(missing, `published from ${s.published}`).toEqual([])
      expect([...keys].filter((k) => k.includes('.vite/') || k.includes('cdn-publish-report'))).toEqual([])
      const ours = [...keys].filter((k) => !k.startsWith(`${prefix}.cdn-publish/`))
      expect(ours.filter((k) => !files.includes(k)), 'objects that are not files of the deployed directory').toEqual([])
      // the report is the project's, outside every served directory
      expect(readReport<DeployReport>(dir)).toMatchObject({ ok: true, bucket })
      for (const [file, want] of Object.entries(s.cacheControl ?? {})) {
        expect((await readObject(admin, bucket, prefix + file)).cacheControl, file).toMatch(want)
      }
    })

    test('every URL the pages name and every url() of the stylesheets resolves to an object: 0 missing', { timeout: 60_000 }, async () => {
      const manifest = JSON.parse((await readBytes(admin, bucket, `${prefix}cdn-manifest.json`))!.toString('utf8')) as CdnManifest
      expect(Object.keys(manifest.files).filter((f) => !keys.has(prefix + f))).toEqual([])
      // each page with the URL path it is served at
      const pages: { name: string; html: string }[] = (s.pages ?? []).map((p) => ({ name: `/${p}`, html: readFileSync(path.join(published, p), 'utf8') }))
      if (s.server) {
        const app = await startServer(dir, s.server.command)
        try {
          for (const p of s.server.paths) {
            const res = await fetch(app.origin + p)
            expect(res.status, `GET ${p}`).toBe(200)
            pages.push({ name: p, html: await res.text() })
          }
        } finally {
          await app.stop()
        }
      }
      expect(pages.length).toBe((s.pages?.length ?? 0) + (s.server?.paths.length ?? 0))
      const named: string[] = []
      const missing: string[] = []
      for (const page of pages) {
        for (const url of [...htmlUrls(page.html), ...inlineStyleUrls(page.html)]) {
          const key = keyOf(url, page.name)
          // links to pages are the app server's; assets have an extension
          if (key === undefined || /\.html?$/.test(key) || !/\.[a-z\d]+$/i.test(key)) continue
          named.push(key)
          if (!keys.has(key)) missing.push(`${page.name}: ${url}`)
        }
      }
      for (const css of [...keys].filter((k) => k.endsWith('.css'))) {
        const text = (await readBytes(admin, bucket, css))!.toString('utf8')
        for (const ref of findCssRefs(text)) {
          const key = keyOf(ref.url, `/${css}`)
          if (key === undefined) continue
          named.push(key)
          if (!keys.has(key)) missing.push(`${css}: url(${ref.url})`)
        }
      }
      expect(missing).toEqual([])
      expect(named.length).toBeGreaterThan(0)
      // the public image of the global stylesheet is named by its fingerprinted copy
      expect(named.filter((k) => PUBLIC_IMAGE.test(k.slice(prefix.length))), 'the fingerprinted public image').not.toEqual([])
      expect(named.filter((k) => k.endsWith('img/pub.png'))).toEqual([])
    })

    test('an unchanged rebuild uploads nothing but what the framework changes on every build', { timeout }, async () => {
      const again = await runBuild(s.app, s.outputs, publishEnv())
      expectBuilt(again, 'the rebuild')
      const report = readReport<DeployReport>(dir)
      // a new release (a framework's build id changed) also uploads its record and snapshots, under .cdn-publish/
      const uploaded = report.uploaded.map((f) => f.key.slice(prefix.length)).filter((p) => !p.startsWith('.cdn-publish/') && p !== 'cdn-manifest.json')
      expect(uploaded.filter((p) => !(s.volatile?.test(p) ?? false))).toEqual([])
      expect(existsSync(published)).toBe(true)
    })
  })
}
