import { sveltekit } from '@sveltejs/kit/vite'
import { defineConfig } from 'vite'
import cdnPublish from '../../dist/index.js'

export default defineConfig({
  plugins: [sveltekit(), cdnPublish()]
})
