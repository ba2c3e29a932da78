/**
 * Nuxt 4 with the module, built statically (`nuxi generate`): playground/nuxt-generate, the
 * playground/nuxt-latest app (Nuxt 4.6 on Node 22) with `nuxt generate` as its build. (Nuxt 4.3.1
 * with the unstorage of its lockfile fails to prerender `/`, module or not: `Invalid key: "/"`.)
 * `.output/public` holds the prerendered pages (`index.html`, `lazy/index.html`, `200.html`,
 * `404.html`, their `_payload.json`), which a static host serves as they are on disk, so their URLs
 * are checked from the files (./starter.ts). Every build writes a new build id
 * (`_nuxt/builds/latest.json`, `_nuxt/builds/meta/<id>.json`) and new payloads (`prerenderedAt`),
 * so new fingerprinted copies of them and pages that name those.
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'nuxt-generate',
  node: 22,
  outputs: ['.output', '.nuxt', 'dist'],
  published: '.output/public',
  pages: ['index.html', 'lazy/index.html', '200.html', '404.html'],
  volatile: /^(?:_nuxt\/builds\/(?:latest\.json|meta\/[\w-]+\.json)|(?:[\w-]+\/)*(?:index|200|404)\.html|(?:[\w-]+\/)*_payload(?:-[\w-]{8})?\.json)$/,
  // polled by the client for a new build: never cached, although inside the immutable _nuxt/
  cacheControl: { '_nuxt/builds/latest.json': /no-cache/ },
  buildTimeout: 240_000,
})
