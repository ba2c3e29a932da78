/**
 * Astro and Nuxt publish through their integration (`vite-plugin-cdn-publish/astro`, the Nuxt
 * module), which runs after the framework wrote everything it deploys. The Vite plugin put in
 * their `vite.plugins` instead would publish one Vite build's output, an incomplete release: the
 * real build fails before anything is written, naming the integration to use.
 */
import { rmSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { appDir, installApp, run } from '../helpers/apps.js'
import { cliEnv } from '../helpers/cli.js'

const env = () => cliEnv({ NO_COLOR: '1', FORCE_COLOR: '0', CDN_PUBLISH_BUCKET: 'never-reached', CDN_PUBLISH_ENDPOINT: 'http://127.0.0.1:9' })

beforeAll(() => Promise.all([installApp('astro-static'), installApp('nuxt')]), 600_000)

test('Astro: the Vite plugin in vite.plugins fails the build, naming the integration', { timeout: 180_000 }, async () => {
  const dir = appDir('astro-static')
  rmSync(path.join(dir, 'dist'), { recursive: true, force: true })
  const r = await run(path.join(dir, 'node_modules/.bin/astro'), ['build', '--config', 'astro.vite-plugin.config.mjs'], dir, env())
  expect(r.code, r.output).not.toBe(0)
  expect(r.output).toContain("cdnPublish() from 'vite-plugin-cdn-publish' is one of Astro's Vite plugins: it would publish a Vite build's output before Astro writes the rest of what it deploys, an incomplete release. Use the integration instead: `import cdnPublish from 'vite-plugin-cdn-publish/astro'` and `integrations: [cdnPublish(options)]` in astro.config.")
  expect(r.output).not.toMatch(/publishing release|publishing skipped/)
})

const mistake = path.join(appDir('nuxt'), 'vite-plugin-mistake')
afterAll(() => {
  for (const d of ['.output', '.nuxt']) rmSync(path.join(mistake, d), { recursive: true, force: true })
})

test('Nuxt: the Vite plugin in vite.plugins fails the build, naming the module', { timeout: 240_000 }, async () => {
  const r = await run(path.join(appDir('nuxt'), 'node_modules/.bin/nuxt'), ['build', mistake], appDir('nuxt'), env())
  expect(r.code, r.output).not.toBe(0)
  expect(r.output).toContain("cdnPublish() from 'vite-plugin-cdn-publish' is one of Nuxt's Vite plugins: it would publish a Vite build's output before Nuxt writes the rest of what it deploys, an incomplete release. Use the module instead: `modules: ['vite-plugin-cdn-publish/nuxt']` in nuxt.config, with the options under its `cdnPublish` key.")
  expect(r.output).not.toMatch(/publishing release|publishing skipped/)
})
