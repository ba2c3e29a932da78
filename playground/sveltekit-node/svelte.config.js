import adapter from '@sveltejs/adapter-node'

/** @type {import('@sveltejs/kit').Config} */
const config = {
  kit: {
    adapter: adapter(),
    version: { name: 'playground' },
    paths: { assets: process.env.PUBLIC_CDN_URL ?? '' }
  }
}

export default config
