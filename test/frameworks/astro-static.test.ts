/**
 * Astro 5, static output, through the integration (`vite-plugin-cdn-publish/astro`): `dist/` once
 * Astro has written the pages, with the stylesheets Astro inlined into them (./starter.ts).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'astro-static',
  outputs: ['dist', '.astro'],
  published: 'dist',
  pages: ['index.html', 'lazy/index.html'],
})
