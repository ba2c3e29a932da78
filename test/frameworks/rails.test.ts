/**
 * vite-plugin-ruby, built without Ruby: `public/vite`. Vite's root is `app/frontend`; the Rails
 * web root `public/` holds the public image the stylesheet names (./starter.ts). ERB renders the
 * pages: no page here.
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'rails',
  outputs: ['public/vite'],
  published: 'public/vite',
  prefix: 'vite/',
})
