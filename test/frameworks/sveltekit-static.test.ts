/** SvelteKit 2 + adapter-static, every page prerendered: `build/`, pages included (./starter.ts). */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'sveltekit-static',
  outputs: ['build', '.svelte-kit'],
  published: 'build',
  pages: ['index.html', 'lazy.html'],
})
