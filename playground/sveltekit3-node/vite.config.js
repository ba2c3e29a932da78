import adapter from '@sveltejs/adapter-node'
import { sveltekit } from '@sveltejs/kit/vite'
import { defineConfig } from 'vite'
import cdnPublish from '../../dist/index.js'

// SvelteKit 3 takes its options in the Vite plugin (svelte.config.js is no longer read)
export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter(),
      version: { name: 'playground' },
      paths: { assets: process.env.PUBLIC_CDN_URL ?? '' }
    }),
    cdnPublish()
  ]
})
