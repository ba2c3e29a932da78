/**
 * A rolling deploy of an SSR starter in a real browser: a copy of playground/sveltekit-node, its
 * assets on a CDN (`kit.paths.assets` = a loopback origin serving the bucket by key, as a CDN
 * would), the pages rendered by the built adapter-node server.
 *
 * Release 1 is built and published, its server starts, and Chromium opens the home page. Release
 * 2 (the lazy page's code and styles changed) is built and published, and the server switches to
 * it on the same port. The tab still running release 1 then opens the lazy page by client-side
 * navigation: with the default retention every file it asks for is there (zero 404s) and it
 * renders release 1's page. With `releases: 1, minAge: 0, grace: 0` the same navigation meets
 * 404s for release 1's files: the failure this plugin exists to prevent, shown to be seen.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest, RetentionOptions } from '../../src/index.js'
import { appDir, freePort, installApp, pluginLines, run, startServer } from '../helpers/apps.js'
import { fixtureCopies, repoRoot } from '../helpers/build.js'
import { cliEnv } from '../helpers/cli.js'
import { startOrigin } from '../helpers/origin.js'
import { adminClient, createBucket, credsEnv, readBytes } from '../helpers/s3.js'

const servers = inject('s3servers')
const APP = 'sveltekit-node'
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const LAZY = 'src/routes/lazy/+page.svelte'
/** The bucket prefix the CDN forwards to (pruning judges only what is under a prefix). */
const PREFIX = 'shop/'

let browser: Browser
const fx = fixtureCopies()
beforeAll(async () => {
  await installApp(APP)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}, 600_000)
afterAll(async () => {
  await browser?.close()
  fx.cleanup()
})

/**
 * A copy of the starter to build releases in: its sources, a node_modules of links to the
 * starter's installed packages (so its report and caches are its own), `cdnPublish(options)`.
 */
function copyApp(retention: RetentionOptions | undefined) {
  const src = appDir(APP)
  const dir = fx.temp('sk-rolling')
  cpSync(src, dir, { recursive: true, filter: (p) => !/[/\\](node_modules|build|\.svelte-kit)$/.test(p) })
  mkdirSync(path.join(dir, 'node_modules'))
  for (const e of readdirSync(path.join(src, 'node_modules'))) {
    if (e !== '.cache' && !e.startsWith('.cdn-publish')) symlinkSync(path.join(src, 'node_modules', e), path.join(dir, 'node_modules', e))
  }
  const config = path.join(dir, 'vite.config.js')
  const options = JSON.stringify(retention ? { retention } : {})
  writeFileSync(config, readFileSync(config, 'utf8').replace('../../dist/index.js', path.join(repoRoot, 'dist/index.js')).replace('cdnPublish()', `cdnPublish(${options})`))
  const lazy = path.join(dir, LAZY)
  const page = readFileSync(lazy, 'utf8')
  return {
    dir,
    /** The lazy page says which release it is, in its code and its styles. */
    release(n: 1 | 2) {
      const word = n === 1 ? 'one' : 'two'
      writeFileSync(lazy, page.replace('<h1>Lazy</h1>', `<h1>Lazy</h1>\n<p id="release">release ${word}</p>`).replace('color: rebeccapurple;', `color: rebeccapurple;\n\t\toutline-color: ${n === 1 ? 'red' : 'blue'};`))
    },
  }
}

const serve = (port: number) => ({ cmd: process.execPath, args: ['build'], env: { PORT: String(port) } })

describe.each(servers.map((s) => [s.name, s] as const))('SvelteKit adapter-node rolling deploy in Chromium, bucket on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  async function scenario(label: string, retention: RetentionOptions | undefined) {
    const bucket = await createBucket(admin, `skroll-${label}`)
    const origin = await startOrigin(server, bucket, PREFIX)
    const app = copyApp(retention)
    const logs: string[] = []
    const publish = async (n: 1 | 2) => {
      app.release(n)
      const r = await run('npm', ['run', 'build', '--silent'], app.dir, cliEnv({ ...credsEnv(server), CDN_PUBLISH_BUCKET: bucket, CDN_PUBLISH_ENDPOINT: server.endpoint, CDN_PUBLISH_PREFIX: PREFIX, PUBLIC_CDN_URL: origin.url, NO_COLOR: '1' }))
      expect(r.code, r.output.slice(-4000)).toBe(0)
      expect(pluginLines(r.output).filter((l) => !l.startsWith('[cdn-publish] ')), r.output).toEqual([])
      logs.push(...pluginLines(r.output))
      return JSON.parse((await readBytes(admin, bucket, `${PREFIX}cdn-manifest.json`))!.toString('utf8')) as CdnManifest
    }
    const port = await freePort()
    let appServer: Awaited<ReturnType<typeof startServer>> | undefined
    try {
      const m1 = await publish(1)
      appServer = await startServer(app.dir, serve, port)
      const page = await browser.newPage()
      const responses: { url: string; status: number }[] = []
      page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }))
      await page.goto(`${appServer.origin}/`, { waitUntil: 'networkidle' })
      // the page's scripts and styles came from the CDN
      expect(responses.filter((r) => r.url.startsWith(origin.url)).length).toBeGreaterThan(0)

      const m2 = await publish(2)
      expect(m2.release).not.toBe(m1.release)
      await appServer.stop()
      appServer = await startServer(app.dir, serve, port)

      const before = responses.length
      await page.click('a[href="/lazy"]')
      // the router changes the URL once the page rendered (or its error page did, or a full
      // page load fell back to the server); then nothing more is loading
      await page.waitForURL(/\/lazy$/)
      await page.waitForLoadState('networkidle')
      const text = (await page.$('#release')) ? await page.textContent('#release') : `no release text: ${await page.textContent('body')}`
      await page.close()
      return { m1, m2, text, asked: responses.slice(before), cdn: origin.url, app: appServer.origin, logs }
    } finally {
      await appServer?.stop()
      await origin.close()
    }
  }

  test('default retention: the tab of release 1 opens its lazy page after the switch, every file there (zero 404s)', async () => {
    const s = await scenario('default', undefined)
    expect(s.asked.filter((r) => r.status >= 400)).toEqual([])
    expect(s.text).toBe('release one')
    // a client-side navigation of the running release 1 app, not a page load from the new server
    expect(s.asked.filter((r) => r.url.startsWith(`${s.app}/lazy`))).toEqual([])
    // it loaded release 1's own lazy code from the CDN, which release 2 no longer names
    const fromCdn = s.asked.filter((r) => r.url.startsWith(s.cdn)).map((r) => new URL(r.url).pathname.slice(1))
    const oldOnly = fromCdn.filter((p) => s.m1.files[p] && !s.m2.files[p])
    expect(oldOnly.length, `release 1 files fetched: ${fromCdn.join(', ')}`).toBeGreaterThan(0)
  }, 240_000)

  test('retention releases 1, minAge 0, grace 0: the same navigation meets 404s for release 1 files', async () => {
    const s = await scenario('too-short', { releases: 1, minAge: 0, grace: 0 })
    const missing = s.asked.filter((r) => r.status === 404 && r.url.startsWith(s.cdn)).map((r) => new URL(r.url).pathname.slice(1))
    expect(missing.length, `${JSON.stringify(s.asked)}\n${s.logs.join('\n')}`).toBeGreaterThan(0)
    expect(s.text).not.toBe('release one')
    for (const p of missing) expect(s.m1.files[p], `${p} is a file of release 1`).toBeDefined()
  }, 240_000)
})
