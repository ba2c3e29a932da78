/**
 * The rolling-deploy skew, in a real browser. `playground/skew` is built and published (release
 * 1) to an S3 test server; a small CDN origin on 127.0.0.1 serves the bucket by key with the
 * stored headers (and, like a CDN, keeps cacheable answers). Headless Chromium opens release 1's
 * page; release 2 (the lazy route's code and its stylesheet's image changed) is published and
 * pruned; then the still-open tab opens the lazy route.
 *
 * With the default retention the old chunk, stylesheet and image all load (no 404, the image is
 * release 1's) and a fresh tab gets release 2 throughout. With `releases: 1, minAge: 0, grace: 0`
 * the old chunk is gone: the tab sees 404s and Vite's `vite:preloadError` — the symptom
 * ("Failed to fetch dynamically imported module") this plugin exists to prevent.
 *
 * Screenshots of every tab go to test/.tmp/e2e-screenshots/.
 */
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Browser, Page, Response } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest, RetentionOptions } from '../../src/index.js'
import { captureLogs, codes, fixtureCopies, repoRoot, viteBuild, type BuildResult } from '../helpers/build.js'
import { sha256hex as sha256 } from '../helpers/digest.js'
import { launchChromium, ROUTE_OUTCOME, skewApp } from '../helpers/chromium.js'
import { startOrigin } from '../helpers/origin.js'
import { adminClient, createBucket, credsEnv, withEnv } from '../helpers/s3.js'

const servers = inject('s3servers')
const PREFIX = 'shop/'
const shots = path.join(repoRoot, 'test/.tmp/e2e-screenshots')

let browser: Browser
const fx = fixtureCopies()
beforeAll(async () => {
  mkdirSync(shots, { recursive: true })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  fx.cleanup()
})

interface Tab {
  page: Page
  responses: { url: string; status: number }[]
}

async function openTab(origin: string): Promise<Tab> {
  const page = await browser.newPage()
  const responses: Tab['responses'] = []
  page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }))
  await page.goto(`${origin}/`, { waitUntil: 'load' })
  await page.waitForSelector('#open')
  return { page, responses }
}

/** Open the lazy route; resolves once the route rendered (with the image it loaded) or the page recorded an error. */
async function openRoute(tab: Tab): Promise<{ image?: { url: string; bytes: Buffer }; text?: string; error?: string }> {
  const image = tab.page.waitForResponse((r) => /\/img\/report-[\w-]{8}\.png$/.test(r.url()), { timeout: 15_000 }).catch(() => undefined)
  await tab.page.click('#open')
  const done = (await (await tab.page.waitForFunction(ROUTE_OUTCOME, undefined, { timeout: 15_000 })).jsonValue()) as string
  if (!(await tab.page.$('#report'))) return { error: done }
  const r: Response | undefined = await image
  return { text: done, ...(r ? { image: { url: r.url(), bytes: await r.body() } } : {}) }
}

const fileOf = (m: CdnManifest, re: RegExp) => Object.keys(m.files).find((p) => re.test(p))!

describe.each(servers.map((s) => [s.name, s] as const))('rolling deploy in Chromium, bucket on %s', (name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  async function release(root: string, bucket: string, retention?: RetentionOptions): Promise<BuildResult> {
    const logs = captureLogs()
    const r = await withEnv(credsEnv(server), () =>
      viteBuild('vite8', root, { publish: { bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true }, ...(retention ? { retention } : {}) }, { customLogger: logs.logger }),
    )
    expect(logs.text()).toContain('[cdn-publish] published release')
    expect(codes(r), 'the warnings of the build').toEqual([])
    return r
  }

  async function scenario(label: string, retention: RetentionOptions | undefined) {
    const bucket = await createBucket(admin, `skew-${label}`)
    const app = skewApp(fx)
    const r1 = await release(app.root, bucket, retention)
    const origin = await startOrigin(server, bucket, PREFIX)
    try {
      const old = await openTab(origin.url)
      app.change()
      const r2 = await release(app.root, bucket, retention)
      expect(r2.manifest!.release).not.toBe(r1.manifest!.release)
      const outcome = await openRoute(old)
      await old.page.screenshot({ path: path.join(shots, `${name}-${label}-release1-tab.png`) })
      const fresh = await openTab(origin.url)
      const freshOutcome = await openRoute(fresh)
      await fresh.page.screenshot({ path: path.join(shots, `${name}-${label}-fresh-tab.png`) })
      await old.page.close()
      await fresh.page.close()
      return { r1: r1.manifest!, r1files: r1.files, r2: r2.manifest!, r2files: r2.files, old, outcome, fresh, freshOutcome }
    } finally {
      await origin.close()
    }
  }

  test('with the default retention, a tab of release 1 opens its lazy route after release 2: no 404, the old image; a fresh tab is release 2', async () => {
    const s = await scenario('default', undefined)
    const image1 = fileOf(s.r1, /^img\/report-[\w-]{8}\.png$/)
    const image2 = fileOf(s.r2, /^img\/report-[\w-]{8}\.png$/)
    expect(image1).not.toBe(image2)

    expect(s.outcome.error).toBeUndefined()
    expect(s.outcome.text).toContain('release one')
    expect(s.old.responses.filter((r) => r.status >= 400)).toEqual([])
    // release 1's own lazy chunk, stylesheet and image were fetched, and the image has release 1's bytes
    const paths1 = (t: Tab) => t.responses.map((r) => new URL(r.url).pathname.slice(1))
    expect(paths1(s.old)).toEqual(expect.arrayContaining([fileOf(s.r1, /^assets\/report-[\w-]{8}\.js$/), fileOf(s.r1, /^assets\/report-[\w-]{8}\.css$/), image1]))
    expect(s.outcome.image?.url).toMatch(new RegExp(`/${image1.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
    expect(sha256(s.outcome.image!.bytes)).toBe(sha256(s.r1files.get(image1)!))

    // a fresh tab: release 2 throughout
    expect(s.freshOutcome.text).toContain('release two')
    expect(s.fresh.responses.filter((r) => r.status >= 400)).toEqual([])
    const fresh = paths1(s.fresh).filter((p) => p !== '')
    for (const p of fresh) expect(s.r2.files[p], `${p} belongs to release 2`).toBeDefined()
    expect(fresh).toEqual(expect.arrayContaining([fileOf(s.r2, /^assets\/report-[\w-]{8}\.js$/), image2]))
    expect(sha256(s.freshOutcome.image!.bytes)).toBe(sha256(s.r2files.get(image2)!))
  })

  test('with retention releases 1, minAge 0, grace 0 the same tab fails: 404s and vite:preloadError', async () => {
    const s = await scenario('too-short', { releases: 1, minAge: 0, grace: 0 })
    expect(s.outcome.text).toBeUndefined()
    expect(s.outcome.error).toMatch(/Unable to preload CSS|Failed to fetch dynamically imported module|error loading dynamically imported module/i)
    const missing = s.old.responses.filter((r) => r.status === 404).map((r) => new URL(r.url).pathname.slice(1))
    expect(missing.length).toBeGreaterThan(0)
    for (const p of missing) expect(s.r1.files[p], `${p} is a file of release 1`).toBeDefined()
    // the fresh tab is fine: release 2 is complete
    expect(s.freshOutcome.text).toContain('release two')
    expect(s.fresh.responses.filter((r) => r.status >= 400)).toEqual([])
  })
})
