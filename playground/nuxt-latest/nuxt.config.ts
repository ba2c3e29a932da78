export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  modules: ['vite-plugin-cdn-publish/nuxt'],
  css: ['~/assets/main.css'],
  devtools: { enabled: false },
  telemetry: false,
})
