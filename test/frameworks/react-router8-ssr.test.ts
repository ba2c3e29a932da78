/**
 * React Router 8 framework mode, SSR, built and served on Node 22 (the app's own `node`
 * devDependency): `build/client` after the server build, with the route manifest
 * `assets/manifest-<hash>.js` it writes; the pages as react-router-serve renders them
 * (./starter.ts). React Router 8 always builds through Vite's environment API (`buildApp`).
 */
import { appNode } from '../helpers/apps.js'
import { describeStarter } from './starter.js'

describeStarter({
  app: 'react-router8-ssr',
  outputs: ['build', '.react-router'],
  published: 'build/client',
  node: 22,
  server: { command: () => ({ cmd: appNode('react-router8-ssr'), args: ['node_modules/@react-router/serve/bin.cjs', 'build/server/index.js'] }), paths: ['/', '/lazy'] },
})
