/**
 * Astro 5, server output with @astrojs/node (standalone), through the integration: `dist/client`
 * once Astro has moved the server build's assets into it, the prerendered /lazy included; the
 * pages as the built server answers them (./starter.ts).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'astro-node',
  outputs: ['dist', '.astro'],
  published: 'dist/client',
  pages: ['lazy/index.html'],
  server: { command: () => ({ cmd: process.execPath, args: ['dist/server/entry.mjs'] }), paths: ['/', '/lazy'] },
})
