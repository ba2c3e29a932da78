// @ts-check
import { defineConfig } from 'astro/config'
import cdnPublish from 'vite-plugin-cdn-publish/astro'

// Astro 6. Static output: every page is prerendered into dist/, which is what gets published.
export default defineConfig({
  integrations: [cdnPublish()],
})
