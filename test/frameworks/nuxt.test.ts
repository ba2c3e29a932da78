/**
 * Nuxt 4 with the module (`modules: ['vite-plugin-cdn-publish/nuxt']`): `.output/public` once
 * Nitro has assembled it (client assets under `_nuxt/`, the public files, `_nuxt/builds/`), the
 * pages as the built Nitro server renders them (./starter.ts). Every build writes a new build id
 * (`_nuxt/builds/latest.json`, `_nuxt/builds/meta/<id>.json`).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'nuxt',
  outputs: ['.output', '.nuxt'],
  published: '.output/public',
  server: { command: () => ({ cmd: process.execPath, args: ['.output/server/index.mjs'] }), paths: ['/', '/lazy'] },
  volatile: /^_nuxt\/builds\/(?:latest\.json|meta\/[\w-]+\.json)$/,
  // polled by the client for a new build: never cached, although inside the immutable _nuxt/
  cacheControl: { '_nuxt/builds/latest.json': /no-cache/ },
  buildTimeout: 240_000,
})
