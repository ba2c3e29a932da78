/**
 * The runtime skew guard (`skewGuard`) in a real browser. `playground/skew` is built with the
 * guard and published (release 1) to an S3 test server with a retention too short to keep
 * release 1's files (`releases: 1, minAge: 0, grace: 0`); a small CDN origin on 127.0.0.1 serves
 * the bucket (test/helpers/origin.ts). Headless Chromium opens release 1's page; release 2 is
 * published and release 1 pruned; then the still-open tab opens its lazy route, whose chunk is
 * gone.
 *
 * Every document the tab loads is counted, and every `cdn-publish:skew` /
 * `cdn-publish:update` event the guard dispatches is recorded (the test waits for those events,
 * never for time): the tab reloads exactly once, lands on release 2 and the lazy route works;
 * with release 2 itself broken (its lazy chunk deleted from the bucket) it still reloads once
 * and then lets the error through. With `poll`, the browser's clock is driven (Playwright's
 * clock), and the next navigation after the update event reloads.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { buildId } from '../../src/build/skew-guard.js'
import type { CdnManifest, CdnPublishOptions, RetentionOptions } from '../../src/index.js'
import { captureLogs, codes, fixtureCopies, viteBuild } from '../helpers/build.js'
import { launchChromium, ROUTE_OUTCOME, skewApp } from '../helpers/chromium.js'
import { startOrigin } from '../helpers/origin.js'
import { adminClient, createBucket, credsEnv, withEnv } from '../helpers/s3.js'

const servers = inject('s3servers')
const PREFIX = 'shop/'
const TOO_SHORT: RetentionOptions = { releases: 1, minAge: 0, grace: 0 }

let browser: Browser
const fx = fixtureCopies()
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  fx.cleanup()
})

interface GuardEvent {
  type: 'skew' | 'update'
  url: string
  detail: { build: string; live?: string; reload?: boolean }
}

/** A tab that counts the documents it loads and records the guard's events, across reloads. */
async function openTab(origin: string, opts: { clock?: boolean } = {}) {
  const context = await browser.newContext()
  const page: Page = await context.newPage()
  const navigations: string[] = []
  const events: GuardEvent[] = []
  const waiting: { type: GuardEvent['type']; resolve: (e: GuardEvent) => void }[] = []
  // documents loaded in the tab (history.pushState is no load; a reload is)
  page.on('load', () => navigations.push(page.url()))
  await page.exposeFunction('__guardEvent', (e: GuardEvent) => {
    events.push(e)
    const i = waiting.findIndex((w) => w.type === e.type)
    if (i !== -1) waiting.splice(i, 1)[0].resolve(e)
  })
  await page.addInitScript(
    "for (const type of ['skew', 'update']) addEventListener('cdn-publish:' + type, (e) => window.__guardEvent({ type, url: location.href, detail: e.detail }))",
  )
  if (opts.clock) await page.clock.install()
  await page.goto(`${origin}/`, { waitUntil: 'load' })
  await page.waitForSelector('#open')
  return {
    page,
    navigations,
    events,
    /** The next guard event of that type (one already recorded and not waited for counts). */
    next(type: GuardEvent['type']): Promise<GuardEvent> {
      return new Promise((resolve) => waiting.push({ type, resolve }))
    },
    /** The build the page in the tab belongs to, as its guard element says. */
    build: () => page.getAttribute('script[data-cdn-skew-guard]', 'data-build'),
    close: () => context.close(),
  }
}

const lazyChunk = (m: CdnManifest) => Object.keys(m.files).find((p) => /^assets\/report-[\w-]{8}\.js$/.test(p))!

describe.each(servers.map((s) => [s.name, s] as const))('the skew guard in Chromium, bucket on %s', (name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  async function release(root: string, bucket: string, options: Pick<CdnPublishOptions, 'skewGuard' | 'retention'>): Promise<CdnManifest> {
    const logs = captureLogs()
    const r = await withEnv(credsEnv(server), () =>
      viteBuild('vite8', root, { ...options, publish: { bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true } }, { customLogger: logs.logger }),
    )
    expect(logs.text()).toContain('[cdn-publish] published release')
    expect(codes(r), 'the warnings of the build').toEqual([])
    return r.manifest!
  }

  /** Release 1 with the guard and a too-short retention, an origin, a tab on it; then release 2. */
  async function rolled(label: string) {
    const bucket = await createBucket(admin, `guard-${label}-${name}`)
    const app = skewApp(fx)
    const options = { skewGuard: true, retention: TOO_SHORT }
    const r1 = await release(app.root, bucket, options)
    const origin = await startOrigin(server, bucket, PREFIX)
    const tab = await openTab(origin.url)
    expect(await tab.build()).toBe(buildId(r1.files))
    app.change()
    const r2 = await release(app.root, bucket, options)
    const b1 = buildId(r1.files)
    const b2 = buildId(r2.files)
    expect(b2).not.toBe(b1)
    return { bucket, origin, tab, r2, b1, b2 }
  }

  test('release 1 pruned under an open tab: opening the lazy route reloads exactly once, onto release 2, and the route works', async () => {
    const { origin, tab, b1, b2 } = await rolled('reload')
    try {
      const skew = tab.next('skew')
      await Promise.all([tab.page.waitForEvent('load'), tab.page.click('#open')])
      expect((await skew).detail).toEqual({ build: b1, live: b2, reload: true })
      expect(await tab.build()).toBe(b2)
      await tab.page.click('#open')
      const outcome = await (await tab.page.waitForFunction(ROUTE_OUTCOME, undefined, { timeout: 15_000 })).jsonValue()
      expect(outcome).toContain('release two')
      expect(tab.navigations).toEqual([`${origin.url}/`, `${origin.url}/`])
      expect(tab.events).toEqual([{ type: 'skew', url: `${origin.url}/`, detail: { build: b1, live: b2, reload: true } }])
      await tab.close()
    } finally {
      await origin.close()
    }
  })

  test('release 2 broken on purpose (its lazy chunk deleted): one reload, then the error goes through, never a second reload', async () => {
    const { bucket, origin, tab, r2, b1, b2 } = await rolled('broken')
    try {
      await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: PREFIX + lazyChunk(r2) }))

      const first = tab.next('skew')
      await Promise.all([tab.page.waitForEvent('load'), tab.page.click('#open')])
      expect((await first).detail).toEqual({ build: b1, live: b2, reload: true })
      expect(await tab.build()).toBe(b2)

      const second = tab.next('skew')
      await tab.page.click('#open')
      expect((await second).detail).toEqual({ build: b2, live: b2, reload: false })
      const outcome = await (await tab.page.waitForFunction(ROUTE_OUTCOME, undefined, { timeout: 15_000 })).jsonValue()
      expect(outcome).toMatch(/Unable to preload CSS|Failed to fetch dynamically imported module|error loading dynamically imported module/i)
      // the guard decided not to reload (the event above), so no navigation can follow
      expect(tab.navigations).toEqual([`${origin.url}/`, `${origin.url}/`])
      expect(tab.events.map((e) => e.detail.reload)).toEqual([true, false])
      await tab.close()
    } finally {
      await origin.close()
    }
  })

  test("with poll '10s': an update event once the new build is live, then the next navigation reloads onto it", async () => {
    const bucket = await createBucket(admin, `guard-poll-${name}`)
    const app = skewApp(fx)
    const options = { skewGuard: { poll: '10s' } }
    const r1 = await release(app.root, bucket, options)
    const origin = await startOrigin(server, bucket, PREFIX)
    try {
      const tab = await openTab(origin.url, { clock: true })
      const b1 = buildId(r1.files)
      app.change()
      const r2 = await release(app.root, bucket, options)
      const b2 = buildId(r2.files)
      const update = tab.next('update')
      await tab.page.clock.runFor(10_000)
      expect((await update).detail).toEqual({ build: b1, live: b2 })
      expect(tab.navigations).toEqual([`${origin.url}/`])
      await Promise.all([tab.page.waitForEvent('load'), tab.page.evaluate("history.pushState(null, '', '/')")])
      expect(await tab.build()).toBe(b2)
      expect(tab.navigations).toEqual([`${origin.url}/`, `${origin.url}/`])
      expect(tab.events).toEqual([{ type: 'update', url: `${origin.url}/`, detail: { build: b1, live: b2 } }])
      await tab.close()
    } finally {
      await origin.close()
    }
  })
})
