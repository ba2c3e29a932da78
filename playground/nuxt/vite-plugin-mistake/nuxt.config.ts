// A mistake the plugin refuses (see test/frameworks/integration-instead.test.ts): the Vite plugin
// in Nuxt's `vite.plugins` would publish Nuxt's client build before Nitro assembles .output/public.
import { cdnPublish } from 'vite-plugin-cdn-publish'

export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  vite: { plugins: [cdnPublish()] },
  devtools: { enabled: false },
  telemetry: false,
})
