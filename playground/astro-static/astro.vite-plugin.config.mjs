// @ts-check
// A mistake the plugin refuses (see test/frameworks/integration-instead.test.ts): the Vite plugin
// in Astro's `vite.plugins` would publish one of Astro's Vite builds before the pages are written.
import { defineConfig } from 'astro/config'
import { cdnPublish } from 'vite-plugin-cdn-publish'

export default defineConfig({
  vite: { plugins: [cdnPublish()] },
})
