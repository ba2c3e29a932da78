/**
 * Astro 6 (on its own Node 22), static output, through the integration: `dist/` once Astro has
 * written the pages, with the stylesheets Astro inlined into them (./starter.ts). Astro 6 builds
 * with Vite 7's `buildApp`: a prerender environment, then the client one.
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'astro6-static',
  outputs: ['dist', '.astro'],
  published: 'dist',
  pages: ['index.html', 'lazy/index.html'],
  node: 22,
})
