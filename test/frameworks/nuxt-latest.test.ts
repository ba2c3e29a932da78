/**
 * The latest Nuxt (4.6, playground/nuxt-latest) with the module, built and served on Node 22 (its
 * own `node` devDependency: Nuxt 4.4+ needs Node ^22.22.3): the same checks as Nuxt 4.3
 * (./nuxt.test.ts), `.output/public` once Nitro has assembled it and the pages as the built Nitro
 * server renders them. Every build writes a new build id (`_nuxt/builds/latest.json`,
 * `_nuxt/builds/meta/<id>.json`).
 */
import { appNode } from '../helpers/apps.js'
import { describeStarter } from './starter.js'

describeStarter({
  app: 'nuxt-latest',
  node: 22,
  outputs: ['.output', '.nuxt'],
  published: '.output/public',
  server: { command: () => ({ cmd: appNode('nuxt-latest'), args: ['.output/server/index.mjs'] }), paths: ['/', '/lazy'] },
  volatile: /^_nuxt\/builds\/(?:latest\.json|meta\/[\w-]+\.json)$/,
  // polled by the client for a new build: never cached, although inside the immutable _nuxt/
  cacheControl: { '_nuxt/builds/latest.json': /no-cache/ },
  buildTimeout: 240_000,
})
