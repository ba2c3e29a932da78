/**
 * SvelteKit 3 + adapter-node on Node 22 (the app's own `node` devDependency): `build/client`
 * (the adapter's precompressed `.br`/`.gz` copies left out), the pages as the built server
 * renders them (./starter.ts). SvelteKit 3 builds through Vite's app builder and adapts in a
 * `buildApp` hook, not in the server build's `closeBundle` as SvelteKit 2 does.
 */
import { appNode } from '../helpers/apps.js'
import { describeStarter } from './starter.js'

describeStarter({
  app: 'sveltekit3-node',
  outputs: ['build', '.svelte-kit'],
  published: 'build/client',
  leftOut: /\.(br|gz)$/,
  node: 22,
  server: { command: () => ({ cmd: appNode('sveltekit3-node'), args: ['build'] }), paths: ['/', '/lazy'] },
})
