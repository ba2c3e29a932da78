/**
 * laravel-vite-plugin: `public/build`. Laravel's `public/` is the web root and Vite's
 * `publicDir` is off, so the public image the stylesheet names comes from `public/` and its
 * fingerprinted copy goes to `public/build` (./starter.ts). Blade renders the pages: no page here.
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'laravel',
  outputs: ['public/build'],
  published: 'public/build',
  prefix: 'build/',
})
