/**
 * Astro 5, static output, through the integration (`vite-plugin-cdn-publish/astro`): `dist/` once
 * Astro has written the pages, with the stylesheets Astro inlined into them (./starter.ts). The
 * layout imports a Sass stylesheet naming a public file through a variable and a mixin.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { expect, test } from 'vitest'
import { listFiles } from '../helpers/build.js'
import { appDir } from '../helpers/apps.js'
import { describeStarter } from './starter.js'

describeStarter({
  app: 'astro-static',
  outputs: ['dist', '.astro'],
  published: 'dist',
  pages: ['index.html', 'lazy/index.html'],
})

test('the public file the Sass stylesheet names through a variable and a mixin is fingerprinted in what Astro deploys', () => {
  const dist = path.join(appDir('astro-static'), 'dist')
  const files = listFiles(dist)
  // the compiled rule, in a stylesheet or inlined into the pages by Astro
  const texts = files.filter((f) => /\.(?:css|html)$/.test(f)).map((f) => readFileSync(path.join(dist, f), 'utf8'))
  const rules = texts.flatMap((t) => [...t.matchAll(/\.theme-hero\{[^}]*\}/g)].map((m) => m[0]))
  expect(rules.length).toBeGreaterThan(0)
  for (const rule of rules) {
    const url = /url\("?\/(img\/hero-[\w-]{8}\.png)"?\)/.exec(rule)?.[1]
    expect(url, rule).toBeDefined()
    expect(files).toContain(url)
  }
})
