// @ts-check
import node from '@astrojs/node'
import { defineConfig } from 'astro/config'
import cdnPublish from 'vite-plugin-cdn-publish/astro'

// Astro 6. Server output with @astrojs/node (standalone): `/` is rendered on each request, `/lazy` is
// prerendered at build time. What gets published is dist/client (the server is dist/server).
// Stylesheets are written as files under _astro/ rather than inlined into the pages, so that
// with `build.assetsPrefix` set to the CDN's URL they are served from the CDN too.
export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  build: { inlineStylesheets: 'never' },
  integrations: [cdnPublish()],
})
