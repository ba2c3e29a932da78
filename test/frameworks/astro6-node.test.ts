/**
 * Astro 6 (on its own Node 22), server output with @astrojs/node 10 (standalone), through the
 * integration: `dist/client` once Astro has moved the prerender and server environments' assets
 * into it, the prerendered /lazy included; the pages as the built server, run on the app's Node,
 * answers them (./starter.ts).
 */
import { appNode } from '../helpers/apps.js'
import { describeStarter } from './starter.js'

describeStarter({
  app: 'astro6-node',
  outputs: ['dist', '.astro'],
  published: 'dist/client',
  pages: ['lazy/index.html'],
  node: 22,
  server: { command: () => ({ cmd: appNode('astro6-node'), args: ['dist/server/entry.mjs'] }), paths: ['/', '/lazy'] },
})
