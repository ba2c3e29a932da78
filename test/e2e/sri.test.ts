/**
 * `sri: true` in a real browser. `playground/skew` is built with the option and published to an
 * S3 test server; a small CDN origin on 127.0.0.1 serves the bucket (test/helpers/origin.ts).
 * Headless Chromium loads the page and applies its stylesheet. Then one byte of the published
 * stylesheet is changed in the bucket (as a corrupted or tampered copy at the edge would be),
 * and a fresh browser behind a fresh origin refuses it: the console reports the integrity
 * failure and the page is left unstyled.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { Browser, ConsoleMessage } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { captureLogs, codes, fixtureCopies, viteBuild } from '../helpers/build.js'
import { launchChromium } from '../helpers/chromium.js'
import { startOrigin } from '../helpers/origin.js'
import { adminClient, createBucket, credsEnv, withEnv } from '../helpers/s3.js'

const servers = inject('s3servers')
const PREFIX = 'sri/'

let browser: Browser
const fx = fixtureCopies()
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  fx.cleanup()
})

/** Open the site in a browser context of its own (no shared cache); the body's margin shows whether the stylesheet applied. */
async function visit(origin: string, until?: (m: ConsoleMessage) => boolean) {
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    // the browser asks for /favicon.ico on its own; the playground has none
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(m.text())
  })
  const refused = until ? page.waitForEvent('console', { predicate: until, timeout: 15_000 }) : undefined
  await page.goto(`${origin}/`, { waitUntil: 'load' })
  await refused
  const margin = (await page.evaluate('getComputedStyle(document.body).marginTop')) as string
  const integrity = (await page.evaluate("document.querySelector('link[rel=stylesheet]')?.getAttribute('integrity')")) as string
  await context.close()
  return { errors, margin, integrity }
}

describe.each(servers.map((s) => [s.name, s] as const))('sri in Chromium, bucket on %s', (name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  test('the published stylesheet applies with its integrity; one byte changed in the bucket, the browser refuses it', async () => {
    const bucket = await createBucket(admin, `sri-${name}`)
    const root = fx.project('playground/skew')
    const logs = captureLogs()
    const r = await withEnv(credsEnv(server), () =>
      viteBuild('vite8', root, { sri: true, publish: { bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true } }, { customLogger: logs.logger }),
    )
    expect(codes(r)).toEqual([])
    expect(logs.text()).toContain('[cdn-publish] published release')
    const css = r.find(/^assets\/index-[\w-]{8}\.css$/)
    expect(r.text(css)).toContain('margin:2rem')

    const good = await startOrigin(server, bucket, PREFIX)
    try {
      const ok = await visit(good.url)
      expect(ok).toEqual({ errors: [], margin: '32px', integrity: r.manifest!.files[css].integrity })
    } finally {
      await good.close()
    }

    // one byte of the stored stylesheet changed, headers kept
    const stored = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: PREFIX + css }))
    const text = await stored.Body!.transformToString()
    const flipped = text.replace('margin:2rem', 'margin:3rem')
    expect(flipped.length).toBe(text.length)
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: PREFIX + css, Body: flipped, ContentType: stored.ContentType, CacheControl: stored.CacheControl }))

    const bad = await startOrigin(server, bucket, PREFIX)
    try {
      const blocked = (m: ConsoleMessage) => m.type() === 'error' && m.text().includes('integrity')
      const seen = await visit(bad.url, blocked)
      expect(seen.margin).toBe('8px')
      expect(seen.errors).toEqual([expect.stringMatching(new RegExp(`Failed to find a valid digest in the 'integrity' attribute for resource '${bad.url}/${css.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'.*blocked`))])
    } finally {
      await bad.close()
    }
  })
})
