import { defineConfig } from 'vite'
import laravel from 'laravel-vite-plugin'
import cdnPublish from '../../dist/index.js'

export default defineConfig({
  plugins: [
    laravel({
      input: ['resources/css/app.css', 'resources/js/app.js'],
      refresh: false,
    }),
    cdnPublish(),
  ],
})
