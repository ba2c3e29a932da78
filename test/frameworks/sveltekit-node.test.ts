/**
 * SvelteKit 2 + adapter-node: `build/client` (the adapter's precompressed `.br`/`.gz` copies
 * left out), the pages as the built server renders them (./starter.ts).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'sveltekit-node',
  outputs: ['build', '.svelte-kit'],
  published: 'build/client',
  leftOut: /\.(br|gz)$/,
  server: { command: () => ({ cmd: process.execPath, args: ['build'] }), paths: ['/', '/lazy'] },
})
